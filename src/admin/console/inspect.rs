//! The pages that look into one thing: where an object's replicas (or shards) are, the audit
//! log filtered by actor and action, and the check of its hash chain and seal.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::failed;
use super::query_param;
use crate::error::Context as _;
use crate::service::admin::AdminOps;

/// Audit records shown per page.
const AUDIT_SHOWN: usize = 100;
/// Records read per store call while filtering.
const AUDIT_READ: usize = 1000;
/// A filtered page reads at most this many records (the next page goes on from there).
const AUDIT_SCAN: usize = 20_000;
/// Records per exported file (a file holds at most a few MiB; the next one goes on).
pub(super) const EXPORT_RECORDS: usize = 10_000;

/// The HTTP status of a failed lookup (as the admin API answers it).
pub(super) fn status_of(e: &crate::error::Error) -> StatusCode {
    crate::admin::status_for(e)
}

/// A time as the console shows it (RFC 3339, UTC).
pub(super) fn when(ms: i64) -> String {
    crate::service::admin::utc(ms)
}

/// `/console/locate?bucket=&key=[&versionId=]`: the form, and each stream's replicas with
/// provider, country, operator, state, last verification and whether the policy allows it.
pub(super) async fn locate(service: &AdminOps, view: &View, query: &str) -> (StatusCode, Markup) {
    let (bucket, key) =
        (query_param(query, "bucket").unwrap_or_default(), query_param(query, "key").unwrap_or_default());
    let version = query_param(query, "versionId").filter(|v| !v.is_empty());
    let form = html! {
        form #locate method="get" action="/console/locate" {
            label { "Bucket " input name="bucket" value=(bucket) required; } " "
            label { "Key " input name="key" value=(key) required; } " "
            label { "Version " input name="versionId" value=[version.as_deref()]; } " "
            button type="submit" { "Find" }
        }
    };
    if bucket.is_empty() || key.is_empty() {
        return (StatusCode::OK, frame(view, "/console/locate", "Where is my data", &form));
    }
    let (status, found) = match service.locate(&bucket, &key, version.as_deref()).await {
        Ok(loc) => (StatusCode::OK, location(&loc)),
        Err(e) => (status_of(&e), failed(&e)),
    };
    (status, frame(view, "/console/locate", "Where is my data", &html! { (form) (found) }))
}

fn location(loc: &crate::service::admin::ObjectLocation) -> Markup {
    html! {
        p #summary {
            (loc.bucket) "/" (loc.key) ", version " (loc.version_id) @if loc.latest { " (latest)" }
            ", " (loc.size) " bytes, written " (when(loc.written_ms)) ", policy " (loc.policy)
            ", data key under " (loc.kek)
            @if loc.kek_destroyed { " " span.bad { "(destroyed: unreadable)" } }
        }
        @for s in &loc.streams {
            h2 { "Stream " (s.name) @if s.part_number > 0 { " (part " (s.part_number) ")" } }
            p.muted { (s.scheme) ", " (s.ciphertext_len) " bytes of ciphertext, " (s.stored_len) " stored per holder" }
            table.replicas {
                tr { th { "Provider" } th { "Shard" } th { "Country" } th { "Operator" } th { "Jurisdictions" } th { "State" } th { "Last verified" } th { "Policy" } }
                @for r in &s.replicas {
                    tr {
                        td { (r.provider) }
                        td { @if let Some(sh) = r.shard { (sh) } @else { "–" } }
                        td { (r.country) } td { (r.operator) } td { (r.jurisdictions.join(" → ")) }
                        td { @if r.state == "stored" { span.ok { (r.state) } } @else { span.warn { (r.state) } } }
                        td { @match (r.last_verified_ms, r.last_verification) {
                            (Some(ms), Some(how)) => { (when(ms)) " (" (how) ")" }
                            _ => span.muted { "not yet" },
                        } }
                        td { @if r.allowed { span.ok { "allowed" } } @else { span.bad { "outside policy: being moved" } } }
                    }
                }
            }
            @if !s.awaiting_deletion.is_empty() {
                p { "Copies given up, awaiting deletion:" }
                ul { @for d in &s.awaiting_deletion { li { (d.provider) " (" (d.country) "): " (d.reason) ", since " (when(d.since_ms)) } } }
            }
        }
    }
}

/// `/console/audit?actor=&action=&after=`: records after a sequence number, optionally only
/// those of one actor and of actions starting with a prefix, a page at a time.
pub(super) async fn audit(service: &AdminOps, view: &View, query: &str) -> (StatusCode, Markup) {
    let actor = query_param(query, "actor").filter(|a| !a.is_empty());
    let action = query_param(query, "action").filter(|a| !a.is_empty());
    let start = query_param(query, "after").and_then(|a| a.parse::<u64>().ok()).unwrap_or(0);
    let wanted = |r: &crate::model::audit::AuditRecord| {
        actor.as_ref().is_none_or(|a| r.actor == *a) && action.as_ref().is_none_or(|a| r.action.starts_with(a.as_str()))
    };
    let (mut shown, mut after, mut scanned, mut more) = (Vec::new(), start, 0, true);
    // Unfiltered, a page is exactly the records shown.
    let read = if actor.is_none() && action.is_none() { AUDIT_SHOWN } else { AUDIT_READ };
    while shown.len() < AUDIT_SHOWN && scanned < AUDIT_SCAN {
        let page = match service.audit_records(after, read).await {
            Ok(p) => p,
            Err(e) => return (status_of(&e), frame(view, "/console/audit", "Audit log", &failed(&e))),
        };
        scanned += page.len();
        more = page.len() == read;
        for r in page {
            after = r.seq;
            if wanted(&r) {
                shown.push(r);
                if shown.len() == AUDIT_SHOWN {
                    more = true;
                    break;
                }
            }
        }
        if !more {
            break;
        }
    }
    let next = serde_urlencoded::to_string([
        ("actor", actor.as_deref().unwrap_or("")),
        ("action", action.as_deref().unwrap_or("")),
        ("after", &after.to_string()),
    ])
    .unwrap_or_default();
    let content = html! {
        form #filter method="get" action="/console/audit" {
            label { "Actor " input name="actor" value=[actor.as_deref()]; } " "
            label { "Action starts with " input name="action" value=[action.as_deref()]; } " "
            button type="submit" { "Filter" }
        }
        p { a href="/console/audit/verify" { "Verify the chain" } " · " a href="/console/audit/export?after=0" { "Export (JSON lines)" } }
        table #audit {
            tr { th { "#" } th { "Time" } th { "Actor" } th { "Action" } th { "Detail" } }
            @for r in &shown {
                tr { td { (r.seq) } td { (when(r.time_ms)) } td { (r.actor) } td { (r.action) } td { code { (r.detail) } } }
            }
        }
        @if shown.is_empty() && !more { p.muted { "No record matches." } }
        @if shown.is_empty() && more { p.muted { "No record matches among the " (scanned) " read; the next ones may." } }
        @if more { p { a href=(format!("/console/audit?{next}")) { "Next records" } } }
    };
    (StatusCode::OK, frame(view, "/console/audit", "Audit log", &content))
}

/// Up to [`EXPORT_RECORDS`] records after `after` as JSON lines, and the file's name (the
/// sequence numbers it holds).
pub(super) async fn export(service: &AdminOps, after: u64) -> crate::error::Result<(Vec<u8>, String)> {
    let (mut out, mut next, mut count) = (Vec::new(), after, 0);
    while count < EXPORT_RECORDS {
        let page = service.audit_records(next, AUDIT_READ.min(EXPORT_RECORDS - count)).await?;
        let Some(last) = page.last().map(|r| r.seq) else { break };
        for r in &page {
            serde_json::to_writer(&mut out, r).context("encoding an audit record")?;
            out.push(b'\n');
        }
        count += page.len();
        next = last;
    }
    Ok((out, format!("souverain-audit-{}-{next}.jsonl", after + 1)))
}

/// `/console/audit/verify`: walks the whole chain and checks the seal, as `GET
/// /admin/v1/audit/verify` does.
pub(super) async fn verify(service: &AdminOps, view: &View) -> (StatusCode, Markup) {
    let report = match super::super::residency::verify_chain(service).await {
        Ok(r) => r,
        Err(e) => return (status_of(&e), frame(view, "/console/audit", "Audit chain", &failed(&e))),
    };
    let intact = report["intact"].as_bool().unwrap_or(false);
    let problems: Vec<String> = report["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let content = html! {
        @if intact { p #verdict.ok { "Intact: " (report["records"]) " records, sealed through record " (report["sealed_through"]) "." } }
        @else { p #verdict.bad { "Broken: " (problems.len()) " problem(s)." } ul { @for p in &problems { li { (p) } } } }
        p { a href="/console/audit" { "Back to the log" } }
    };
    (StatusCode::OK, frame(view, "/console/audit", "Audit chain", &content))
}
