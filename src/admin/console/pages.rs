//! The residency pages: the providers with their legal facts, certifications and health; the
//! policies in words with the buckets bound to each; a bucket's placement explained.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use crate::model::{Distinct, ProviderInfo, ResidencyPolicy};
use crate::placement::eligible;
use crate::service::admin::AdminOps;

/// A certification expiring within this many days is highlighted.
const EXPIRY_WARNING_DAYS: i64 = 90;

/// `/console/`: every provider, its country, operator, ownership chain, exposures,
/// certifications (expired ones in red, those expiring within 90 days in amber), whether it is
/// reachable, and the policies that may place data on it today.
pub(super) fn providers(service: &AdminOps, view: &View) -> Markup {
    let today = crate::service::today();
    let policies = service.policies();
    let providers = service.providers_view();
    let usage = service.usage();
    let content = html! {
        (super::map::europe(&providers))
        table #providers {
            tr {
                th { "Provider" } th { "Country" } th { "Operator" } th { "Jurisdictions" } th { "Exposures" }
                th { "Independence group" } th { "Certifications" } th { "Health" } th { "Stored" } th { "Policies that may use it" } th {}
            }
            @for p in &providers {
                tr {
                    td { (p.info.id.as_str()) @if p.info.retired { " " span.bad { "retired" } } }
                    td { (p.info.country) }
                    td { (p.info.operator) }
                    td { (join(p.info.jurisdictions.iter().map(ToString::to_string), " → ")) }
                    td {
                        @if p.info.exposures.is_empty() { span.ok { "none" } }
                        @else { span.bad { (p.info.exposures.join(", ")) } }
                    }
                    td { (p.info.independence_group) }
                    td { (certifications(&p.info, today)) }
                    td {
                        @if p.reachable { span.ok { "reachable" } } @else { span.bad { "unreachable" } }
                    }
                    td.stored { @match usage.by_provider.get(p.info.id.as_str()) {
                        Some((replicas, bytes)) => {
                            (replicas) @if *replicas == 1 { " replica, " } @else { " replicas, " } (bytes) " bytes"
                        }
                        None => span.muted { "nothing yet" },
                    } }
                    td { (join(usable_by(&policies, &p.info, today), ", ")) }
                    td { a href=(format!("/console/providers/{}", p.info.id.as_str())) { "Change" } }
                }
            }
        }
    };
    frame(view, "/console/", "Providers", &content)
}

fn certifications(p: &ProviderInfo, today: time::Date) -> Markup {
    html! {
        @for c in &p.certifications {
            @let days = (c.valid_until - today).whole_days();
            @let class = if days < 0 { "bad" } else if days <= EXPIRY_WARNING_DAYS { "warn" } else { "ok" };
            span class=(class) { (c.scheme) " until " (c.valid_until) }
            br;
        }
    }
}

/// The ids of the policies under which `provider` may hold data today.
fn usable_by(policies: &[ResidencyPolicy], provider: &ProviderInfo, today: time::Date) -> Vec<String> {
    policies.iter().filter(|p| eligible(p, provider, today)).map(|p| p.id.clone()).collect()
}

pub(super) fn join(items: impl IntoIterator<Item = String>, sep: &str) -> String {
    items.into_iter().collect::<Vec<_>>().join(sep)
}

/// `/console/policies`: each policy's rules in words, and the buckets bound to it (each links
/// to its placement explained).
pub(super) async fn policies(service: &AdminOps, view: &View) -> Markup {
    let bindings = match service.bucket_bindings().await {
        Ok(b) => b,
        Err(e) => return frame(view, "/console/policies", "Policies and buckets", &failed(&e)),
    };
    let usage = service.usage();
    let content = html! {
        @for policy in service.policies() {
            section.policy id=(format!("policy-{}", policy.id)) {
                h2 { (policy.id) " " a.change href=(format!("/console/policies/{}", policy.id)) { "Change" } }
                ul { @for rule in in_words(&policy) { li { (rule) } } }
                @let buckets: Vec<&String> = bindings.iter().filter(|(_, p)| *p == policy.id).map(|(b, _)| b).collect();
                @if buckets.is_empty() { p.muted { "No bucket is bound to it." } }
                @else {
                    p { "Buckets: "
                        @for (i, b) in buckets.iter().enumerate() {
                            @if i > 0 { ", " }
                            a href=(format!("/console/buckets/{}", crate::admin::client::encode_segment(b))) { (b) }
                            @if let Some((objects, bytes)) = usage.by_bucket.get(b.as_str()) {
                                " (" (objects) @if *objects == 1 { " object, " } @else { " objects, " } (bytes) " bytes)"
                            }
                        }
                    }
                }
            }
        }
    };
    frame(view, "/console/policies", "Policies and buckets", &content)
}

fn copies(n: u8) -> String {
    if n == 1 { "One copy".to_owned() } else { format!("{n} copies") }
}

/// A policy's rules as sentences an auditor reads.
pub(super) fn in_words(p: &ResidencyPolicy) -> Vec<String> {
    let mut out = Vec::new();
    match p.erasure {
        Some(e) => out.push(format!(
            "Each object is cut into {} data and {} parity shards, one per provider; a write is acknowledged once {} are stored; any {} shards read it back.",
            e.data, e.parity, p.write_quorum, e.data
        )),
        None => out.push(format!(
            "{} of each object; a write is acknowledged once {} stored.",
            copies(p.replicas),
            if p.write_quorum == 1 { "one is".to_owned() } else { format!("{} are", p.write_quorum) }
        )),
    }
    let list = |items: &[crate::model::CountryCode]| join(items.iter().map(ToString::to_string), ", ");
    if !p.allowed_countries.is_empty() {
        out.push(format!("Data only in: {}.", list(&p.allowed_countries)));
    }
    if !p.allowed_jurisdictions.is_empty() {
        out.push(format!(
            "Every operator's ownership chain only under the law of: {}.",
            list(&p.allowed_jurisdictions)
        ));
    }
    if !p.forbid_exposures.is_empty() {
        out.push(format!("No provider subject to: {}.", p.forbid_exposures.join(", ")));
    }
    if !p.required_certifications.is_empty() {
        out.push(format!("Every provider certified: {} (valid today).", p.required_certifications.join(", ")));
    }
    out.push(match p.distinct {
        Distinct::IndependenceGroup => "No two copies in one independence group (operator and its regions).".into(),
        Distinct::Operator => "No two copies with one operator.".into(),
        Distinct::Country => "No two copies in one country.".into(),
        Distinct::None => "Copies may share an operator and a country.".into(),
    });
    if p.min_distinct_countries > 1 {
        out.push(format!("At least {} different countries.", p.min_distinct_countries));
    }
    if p.min_distinct_operators > 1 {
        out.push(format!("At least {} different operators.", p.min_distinct_operators));
    }
    out
}

/// `/console/buckets/{bucket}`: where the bucket's next objects go and why each other provider
/// is excluded (as `souverain admin explain`).
pub(super) async fn bucket(service: &AdminOps, view: &View, name: &str) -> (StatusCode, Markup) {
    let Some(name) = crate::admin::percent_decode(name) else {
        return (
            StatusCode::BAD_REQUEST,
            frame(view, "/console/policies", "Bucket", &html! { p.notice { "Bad bucket name." } }),
        );
    };
    let title = format!("Bucket {name}");
    match service.explain_placement(&name).await {
        Ok(x) => {
            let content = html! {
                p { "Policy " a href=(format!("/console/policies#policy-{}", x.policy)) { (x.policy) } ": " (x.outcome)
                    ", scheme " (x.scheme) ", write quorum " (x.write_quorum) "." }
                table #placement {
                    tr { th { "Provider" } th { "Country" } th { "Operator" } th { "Chosen" } th { "Why not" } }
                    @for p in &x.providers {
                        tr {
                            td { (p.provider) } td { (p.country) } td { (p.operator) }
                            td { @if p.chosen { span.ok { "yes" @if let Some(s) = p.shard { " (shard " (s) ")" } } } @else { "no" } }
                            td { (p.violations.join("; ")) }
                        }
                    }
                }
                (super::binding::form(service, view, &name, &x.policy))
            };
            (StatusCode::OK, frame(view, "/console/policies", &title, &content))
        }
        Err(e) => (super::inspect::status_of(&e), frame(view, "/console/policies", &title, &failed(&e))),
    }
}

/// What a failed lookup says on a page: the error for the caller's mistakes (no such bucket,
/// bad name), nothing internal otherwise (the log has it).
pub(super) fn failed(e: &crate::error::Error) -> Markup {
    let status = super::inspect::status_of(e);
    if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
        tracing::warn!(error = %crate::report::chain(e), "console: a page could not be built");
    }
    // A refusal of what is not built (501) is the caller's to read, not an internal fault.
    let internal = status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED;
    let message = if internal { "The gateway could not answer this now.".to_owned() } else { e.to_string() };
    html! { p.notice { (message) } }
}
