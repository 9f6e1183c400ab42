//! The compliance report an auditor files: dated, one page of HTML (printable) and the same
//! facts as a PDF (printpdf, Helvetica, A4): the gateway's version and the digest of the
//! residency rules in force, the catalog with its evidence dates, the policies in words, per
//! bucket the providers, countries and jurisdictions holding its data and how many replicas sit
//! outside its policy (from the metadata), the map of the countries holding data (PDF), the
//! latest scrub pass (which checks the replicas against the providers) with what it found per
//! bucket, and the audit chain's verdict and head.

use maud::{Markup, html};

use super::inspect::when;
use super::layout::{View, frame};
use super::pages::in_words;
use super::pdf::{Block, Table};
use super::pdf_map::MapView;
use crate::service::admin::{AdminOps, BucketResidency, ComplianceFacts};

/// The audit chain as the report states it.
pub(super) struct Chain {
    records: u64,
    intact: bool,
    sealed_through: Option<u64>,
    head_hash: Option<String>,
    problems: Vec<String>,
}

/// The facts and the chain's verdict, gathered now.
pub(super) async fn gather(service: &AdminOps) -> crate::error::Result<(ComplianceFacts, Chain)> {
    let facts = service.compliance_facts().await?;
    let verdict = super::super::residency::verify_chain(service).await?;
    let chain = Chain {
        records: verdict["records"].as_u64().unwrap_or(0),
        intact: verdict["intact"].as_bool().unwrap_or(false),
        sealed_through: verdict["sealed_through"].as_u64(),
        head_hash: verdict["head_hash"].as_str().map(str::to_owned),
        problems: verdict["problems"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
    };
    Ok((facts, chain))
}

/// The report's date (the day it was generated, UTC).
pub(super) fn day(facts: &ComplianceFacts) -> String {
    when(facts.generated_ms).get(..10).unwrap_or_default().to_owned()
}

fn outside_total(facts: &ComplianceFacts) -> u64 {
    facts.buckets.iter().map(|b| b.outside_policy).sum()
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    super::pages::join(items.into_iter().cloned(), ", ")
}

/// `GET /console/report`.
pub(super) fn page(view: &View, facts: &ComplianceFacts, chain: &Chain) -> Markup {
    let content = html! {
        p { a href="/console/report.pdf" { "Download as PDF" } }
        (body(facts, chain))
    };
    frame(view, "/console/report", &format!("Compliance report, {}", day(facts)), &content)
}

/// The report as one standalone HTML document (its style inline, nothing else to load), for
/// Chromium to print.
pub(super) fn printable(facts: &ComplianceFacts, chain: &Chain) -> String {
    let title = format!("souverain compliance report, {}", day(facts));
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                // Nothing to load or run: the style is inline (blocking scripts by a browser
                // setting instead stops Chromium's own printing).
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'";
                title { (title) }
                style { (maud::PreEscaped(super::STYLESHEET)) }
            }
            body { main { h1 { (title) } (body(facts, chain)) } }
        }
    }
    .into_string()
}

/// What the report says, as HTML.
fn body(facts: &ComplianceFacts, chain: &Chain) -> Markup {
    let outside = outside_total(facts);
    html! {
        h2 { "Gateway" }
        p #gateway { "souverain " (facts.version) ", report generated " (when(facts.generated_ms))
            ". Residency rules in force (catalog and policies): SHA-256 " code { (facts.residency_sha256) } "." }
        h2 { "Providers" }
        table #report-providers {
            tr { th { "Provider" } th { "Country" } th { "Operator" } th { "Jurisdictions" } th { "Exposures" } th { "Certifications (valid until)" } }
            @for p in &facts.providers {
                tr {
                    td { (p.id.as_str()) @if p.retired { " (retired)" } } td { (p.country) } td { (p.operator) }
                    td { (list(&p.jurisdictions.iter().map(ToString::to_string).collect::<Vec<_>>())) }
                    td { (list(&p.exposures)) }
                    td { @for c in &p.certifications { (c.scheme) " " (c.valid_until) br; } }
                }
            }
        }
        h2 { "Policies" }
        @for policy in &facts.policies { h3 { (policy.id) } ul { @for rule in in_words(policy) { li { (rule) } } } }
        h2 { "Buckets" }
        @if outside == 0 { p #verdict-residency.ok { "No replica of any bucket sits outside its policy (from the metadata)." } }
        @else { p #verdict-residency.bad { (outside) " replicas sit outside their bucket's policy; the evacuation job moves them." } }
        table #report-buckets {
            tr { th { "Bucket" } th { "Policy" } th { "Versions" } th { "Replicas" } th { "Countries" } th { "Jurisdictions" } th { "Providers" } th { "Outside policy" } }
            @for b in &facts.buckets {
                tr {
                    td { (b.bucket) } td { (b.policy) } td { (b.versions) } td { (b.replicas) }
                    td { (list(&b.countries)) } td { (list(&b.jurisdictions)) } td { (list(&b.providers)) }
                    td { @if b.outside_policy == 0 { span.ok { "0" } } @else { span.bad { (b.outside_policy) } } }
                }
            }
        }
        h2 { "Stored at each provider" }
        table #report-stored {
            tr { th { "Provider" } th { "Replicas or shards" } th { "Bytes stored" } }
            @for at in &facts.stored { tr { td { (at.provider) } td { (at.replicas) } td { (at.bytes) } } }
        }
                h2 { "Latest scrub" }
        p #scrub { (scrub_line(facts)) }
        table #report-scrub {
            tr { @for (h, _) in SCRUB_COLUMNS { th { (h) } } }
            @for b in &facts.buckets { tr { @for cell in scrub_row(b) { td { (cell) } } } } }
        h2 { "Audit chain" }
        p #chain { (chain_line(chain)) }
        @if !chain.problems.is_empty() { ul { @for p in &chain.problems { li { (p) } } } }
    }
}

fn scrub_line(facts: &ComplianceFacts) -> String {
    match &facts.scrub {
        Some(s) => format!(
            "Scrub {} (last progress {}): {} of {} replicas checked against the providers, {} found missing or damaged.",
            s.state,
            when(s.updated_ms),
            s.scanned,
            s.total,
            s.failed
        ),
        None => "No scrub pass has run yet: the replicas were not yet checked against the providers.".to_owned(),
    }
}

/// The per-bucket scrub table's columns (and their shares of the PDF's width).
const SCRUB_COLUMNS: [(&str, f32); 6] = [
    ("Bucket", 0.2),
    ("Replicas", 0.12),
    ("Checked by the latest pass", 0.18),
    ("Of those read whole", 0.16),
    ("Awaiting repair", 0.14),
    ("Not checked since the pass started", 0.2),
];

/// A bucket's replicas as the latest scrub pass left them: checked, read whole, awaiting
/// repair, and the rest (written since it started, or at a provider that did not answer).
fn scrub_row(b: &BucketResidency) -> Vec<String> {
    let unchecked = b.replicas.saturating_sub(b.scrub_checked + b.awaiting_repair);
    let mut row = vec![b.bucket.clone()];
    row.extend([b.replicas, b.scrub_checked, b.scrub_read_whole, b.awaiting_repair, unchecked].map(|n| n.to_string()));
    row
}

fn chain_line(chain: &Chain) -> String {
    let verdict = if chain.intact { "intact" } else { "BROKEN" };
    let sealed = chain.sealed_through.map_or("not sealed".to_owned(), |s| format!("sealed through record {s}"));
    let head = chain.head_hash.as_deref().unwrap_or("none");
    format!("{} records, {verdict}, {sealed}; head hash {head}.", chain.records)
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

/// The providers table's rows: id, country, operator, ownership chain, exposures, certifications.
fn provider_rows(facts: &ComplianceFacts) -> Vec<Vec<String>> {
    facts
        .providers
        .iter()
        .map(|p| {
            let certs: Vec<String> =
                p.certifications.iter().map(|c| format!("{} until {}", c.scheme, c.valid_until)).collect();
            let jurisdictions: Vec<String> = p.jurisdictions.iter().map(ToString::to_string).collect();
            let retired = if p.retired { " (retired)" } else { "" };
            vec![
                format!("{}{retired}", p.id.as_str()),
                p.country.to_string(),
                p.operator.clone(),
                jurisdictions.join(" > "),
                or_none(&p.exposures),
                or_none(&certs),
            ]
        })
        .collect()
}

/// The report as the PDF lays it out.
fn blocks(facts: &ComplianceFacts, chain: &Chain) -> Vec<Block> {
    let table = |columns: Vec<(&'static str, f32)>, rows: Vec<Vec<String>>| Block::Table(Table { columns, rows });
    let providers = provider_rows(facts);
    let outside = outside_total(facts);
    let mut out = vec![
        Block::Title(format!("souverain compliance report, {}", day(facts))),
        Block::Text(format!("Gateway: souverain {}, generated {}.", facts.version, when(facts.generated_ms))),
        Block::Text(format!("Residency rules in force (catalog and policies), SHA-256: {}", facts.residency_sha256)),
        Block::Heading("Providers".to_owned()),
        table(
            vec![
                ("Provider", 0.16),
                ("Country", 0.09),
                ("Operator", 0.2),
                ("Jurisdictions", 0.15),
                ("Exposures", 0.16),
                ("Certifications", 0.24),
            ],
            providers,
        ),
        Block::Heading("Policies".to_owned()),
        table(
            vec![("Policy", 0.18), ("Rules", 0.82)],
            facts.policies.iter().map(|p| vec![p.id.clone(), in_words(p).join(" ")]).collect(),
        ),
        Block::Heading("Buckets".to_owned()),
        Block::Text(if outside == 0 {
            "No replica of any bucket sits outside its policy (from the metadata).".to_owned()
        } else {
            format!("{outside} replicas sit outside their bucket's policy; the evacuation job moves them.")
        }),
        table(
            vec![
                ("Bucket", 0.12),
                ("Policy", 0.12),
                ("Versions", 0.09),
                ("Replicas", 0.09),
                ("Countries", 0.11),
                ("Jurisdictions", 0.14),
                ("Providers", 0.25),
                ("Outside policy", 0.08),
            ],
            facts
                .buckets
                .iter()
                .map(|b| {
                    let n = |v: u64| v.to_string();
                    vec![
                        b.bucket.clone(),
                        b.policy.clone(),
                        n(b.versions),
                        n(b.replicas),
                        list(&b.countries),
                        list(&b.jurisdictions),
                        list(&b.providers),
                        n(b.outside_policy),
                    ]
                })
                .collect(),
        ),
        Block::Heading("Where the data is".to_owned()),
        Block::Map(map_view(facts)),
        Block::Heading("Stored at each provider".to_owned()),
        table(
            vec![("Provider", 0.4), ("Replicas or shards", 0.3), ("Bytes stored", 0.3)],
            facts
                .stored
                .iter()
                .map(|at| vec![at.provider.clone(), at.replicas.to_string(), at.bytes.to_string()])
                .collect(),
        ),
        Block::Heading("Latest scrub".to_owned()),
        Block::Text(scrub_line(facts)),
        table(SCRUB_COLUMNS.to_vec(), facts.buckets.iter().map(scrub_row).collect()),
        Block::Heading("Audit chain".to_owned()),
        Block::Text(chain_line(chain)),
    ];
    out.extend(chain.problems.iter().map(|p| Block::Text(format!("Problem: {p}"))));
    out
}

/// The map's countries holding data and the providers of each country.
fn map_view(facts: &ComplianceFacts) -> MapView {
    let mut map = MapView::default();
    for p in &facts.providers {
        let holds = facts.stored.iter().any(|at| at.provider == p.id.as_str() && at.replicas > 0);
        if holds {
            map.held.insert(p.country.to_string());
        }
        let site = map.sites.entry(p.country.to_string()).or_default();
        site.0.push(p.id.as_str().to_owned());
        site.1 |= !p.exposures.is_empty();
    }
    map
}

/// `GET /console/report.pdf`.
pub(super) fn pdf(facts: &ComplianceFacts, chain: &Chain) -> Vec<u8> {
    super::pdf::render(&format!("souverain compliance report {}", day(facts)), &blocks(facts, chain))
}
