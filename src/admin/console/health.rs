//! The health page: what needs an operator's attention now (the same conditions the shipped
//! Prometheus alerts watch: a provider down or its circuit open, a policy that can no longer
//! reach its write quorum, the key provider failing, repairs stuck, deletions outside policy or
//! overdue), then each provider's checks, circuit and read latency with its share of the
//! repair and deletion queues, and each policy's reachable providers; last, the alerts the
//! configured Prometheus has pending or firing.

use maud::{Markup, html};

use super::alerts::{self, Alerts};
use super::layout::{View, frame};
use crate::health::HealthReport;

/// The conditions that hold now, in words (empty: nothing needs attention).
pub(super) fn problems(r: &HealthReport) -> Vec<String> {
    let mut out = Vec::new();
    if r.key_provider != "ok" {
        out.push(format!("The key provider fails: {}.", r.key_provider));
    }
    for (id, p) in &r.providers {
        if !p.reachable {
            out.push(format!(
                "Provider {id} is unreachable{}.",
                p.last_error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
            ));
        } else if p.passive.as_ref().is_some_and(|s| s.circuit.as_gauge() == CIRCUIT_OPEN) {
            out.push(format!("Provider {id}'s circuit is open (its requests fail)."));
        }
    }
    for (id, p) in &r.policies {
        if !p.write_quorum_available {
            out.push(format!(
                "Policy {id} cannot take writes: {} of its providers reachable, its write quorum is {}.",
                p.reachable_providers, p.write_quorum
            ));
        }
    }
    if r.repair.stuck_tasks > 0 {
        out.push(format!("{} repair tasks failed ten times or more.", r.repair.stuck_tasks));
    }
    if r.deletions.outside_policy > 0 {
        out.push(format!("{} copies outside policy await deletion at their providers.", r.deletions.outside_policy));
    }
    if r.deletions.overdue > 0 {
        out.push(format!("{} deletions are overdue.", r.deletions.overdue));
    }
    out
}

fn ms(v: Option<u64>) -> String {
    v.map_or("–".to_owned(), |v| format!("{v} ms"))
}

/// The circuit as `souverain_backend_circuit_state` exports it: 0 closed, 1 half open, 2 open.
const CIRCUIT_OPEN: i64 = 2;

fn circuit(gauge: i64) -> Markup {
    match gauge {
        0 => html! { span.ok { "closed" } },
        1 => html! { span.warn { "half open" } },
        _ => html! { span.bad { "open" } },
    }
}

/// `GET /console/health`.
pub(super) fn page(view: &View, r: &HealthReport, alerts: &Alerts) -> Markup {
    let problems = problems(r);
    let content = html! {
        @if problems.is_empty() { p #problems.ok { "Nothing needs attention." } }
        @else { ul #problems { @for p in &problems { li.bad { (p) } } } }
        p { "Key provider: " @if r.key_provider == "ok" { span.ok { "ok" } } @else { span.bad { (r.key_provider) } }
            ". Repair queue: " (r.repair.pending_replicas) " replicas, oldest " (r.repair.oldest_pending_seconds) " s."
            " Deletions: " (r.deletions.pending) " pending, oldest " (r.deletions.oldest_pending_seconds) " s." }
        table #health-providers {
            tr { th { "Provider" } th { "Checks" } th { "Circuit" } th { "Read TTFB p50 / p95" } th { "Replicas to repair there" } th { "Deletions pending there" } th { "Last error" } }
            @for (id, p) in &r.providers {
                tr {
                    td { (id) }
                    td { @if p.reachable { span.ok { "reachable" } } @else { span.bad { "unreachable" } } }
                    td { @if let Some(s) = &p.passive { (circuit(s.circuit.as_gauge())) } @else { "–" } }
                    td { @if let Some(s) = &p.passive { (ms(s.ttfb_p50_ms)) " / " (ms(s.ttfb_p95_ms)) } }
                    td { (r.repair.providers.get(id).map_or(0, |b| b.pending_replicas)) }
                    td { (r.deletions.providers.get(id).map_or(0, |d| d.pending)) }
                    td { (p.last_error.as_deref().unwrap_or("")) }
                }
            }
        }
        table #health-policies {
            tr { th { "Policy" } th { "Write quorum" } th { "Reachable providers" } th { "Writes possible" } }
            @for (id, p) in &r.policies {
                tr {
                    td { (id) } td { (p.write_quorum) } td { (p.reachable_providers) }
                    td { @if p.write_quorum_available { span.ok { "yes" } } @else { span.bad { "no" } } }
                }
            }
        }
        (alerts::section(alerts))
    };
    frame(view, "/console/health", "Health", &content)
}
