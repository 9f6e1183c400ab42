//! The compliance report an auditor files: dated, one page of HTML (printable) and the same
//! facts as a PDF (printpdf, Helvetica, A4): the gateway's version and the digest of the
//! residency rules in force, the catalog with its evidence dates, the policies in words, per
//! bucket the providers, countries and jurisdictions holding its data and how many replicas sit
//! outside its policy (from the metadata), the latest scrub pass (which checks the replicas
//! against the providers), and the audit chain's verdict and head.

use maud::{Markup, html};
use printpdf::{BuiltinFont, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, TextItem};

use super::inspect::when;
use super::layout::{View, frame};
use super::pages::in_words;
use crate::service::admin::{AdminOps, ComplianceFacts};

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
    let outside = outside_total(facts);
    let content = html! {
        p { a href="/console/report.pdf" { "Download as PDF" } }
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
        h2 { "Audit chain" }
        p #chain { (chain_line(chain)) }
        @if !chain.problems.is_empty() { ul { @for p in &chain.problems { li { (p) } } } }
    };
    frame(view, "/console/report", &format!("Compliance report, {}", day(facts)), &content)
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

fn chain_line(chain: &Chain) -> String {
    let verdict = if chain.intact { "intact" } else { "BROKEN" };
    let sealed = chain.sealed_through.map_or("not sealed".to_owned(), |s| format!("sealed through record {s}"));
    let head = chain.head_hash.as_deref().unwrap_or("none");
    format!("{} records, {verdict}, {sealed}; head hash {head}.", chain.records)
}

/// The report as lines of text (the PDF's content).
fn lines(facts: &ComplianceFacts, chain: &Chain) -> Vec<String> {
    let mut out = vec![
        format!("souverain compliance report, {}", day(facts)),
        String::new(),
        format!("Gateway: souverain {}, generated {}", facts.version, when(facts.generated_ms)),
        format!("Residency rules in force (SHA-256): {}", facts.residency_sha256),
        String::new(),
        "PROVIDERS".to_owned(),
    ];
    for p in &facts.providers {
        let jurisdictions: Vec<String> = p.jurisdictions.iter().map(ToString::to_string).collect();
        let certs: Vec<String> =
            p.certifications.iter().map(|c| format!("{} until {}", c.scheme, c.valid_until)).collect();
        out.push(format!(
            "{}{}: country {}, operator {}, jurisdictions {}, exposures {}, certifications {}",
            p.id.as_str(),
            if p.retired { " (retired)" } else { "" },
            p.country,
            p.operator,
            jurisdictions.join(" -> "),
            if p.exposures.is_empty() { "none".to_owned() } else { p.exposures.join(", ") },
            if certs.is_empty() { "none".to_owned() } else { certs.join(", ") },
        ));
    }
    out.extend([String::new(), "POLICIES".to_owned()]);
    for policy in &facts.policies {
        out.push(format!("{}: {}", policy.id, in_words(policy).join(" ")));
    }
    out.extend([String::new(), "BUCKETS".to_owned()]);
    let outside = outside_total(facts);
    out.push(if outside == 0 {
        "No replica of any bucket sits outside its policy (from the metadata).".to_owned()
    } else {
        format!("{outside} replicas sit outside their bucket's policy; the evacuation job moves them.")
    });
    for b in &facts.buckets {
        out.push(format!(
            "{} (policy {}): {} versions, {} replicas; countries {}; jurisdictions {}; providers {}; outside policy {}",
            b.bucket,
            b.policy,
            b.versions,
            b.replicas,
            list(&b.countries),
            list(&b.jurisdictions),
            list(&b.providers),
            b.outside_policy
        ));
    }
    out.extend([String::new(), "STORED AT EACH PROVIDER".to_owned()]);
    for at in &facts.stored {
        out.push(format!("{}: {} replicas or shards, {} bytes stored", at.provider, at.replicas, at.bytes));
    }
    out.extend([String::new(), "LATEST SCRUB".to_owned(), scrub_line(facts), String::new()]);
    out.extend(["AUDIT CHAIN".to_owned(), chain_line(chain)]);
    out.extend(chain.problems.iter().map(|p| format!("problem: {p}")));
    out
}

/// Characters per line at 9 pt Helvetica on A4 with 18 mm margins (conservative).
const WIDTH_CHARS: usize = 100;
/// Lines per A4 page at 12 pt line height.
const PAGE_LINES: usize = 62;

/// Wraps a line at spaces to [`WIDTH_CHARS`] (a longer word is cut), keeping to what the
/// built-in fonts encode (WinAnsi: ASCII and Latin-1, so "Telefónica" stays itself; anything
/// else becomes `?`).
fn wrap(line: &str) -> Vec<String> {
    let encodable = |c: char| (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c);
    let printable: String = line.chars().map(|c| if encodable(c) { c } else { '?' }).collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for word in printable.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = current.chars().count();
            if used > 0 && used + 1 + word.len() > WIDTH_CHARS {
                out.push(std::mem::take(&mut current));
                current.push_str("    ");
            }
            if !current.trim().is_empty() {
                current.push(' ');
            }
            let room = WIDTH_CHARS.saturating_sub(current.chars().count()).max(1);
            let rest = word.split_off(room.min(word.len()));
            current.extend(word);
            if rest.is_empty() {
                break;
            }
            word = rest;
            out.push(std::mem::take(&mut current));
            current.push_str("    ");
        }
    }
    out.push(current);
    out
}

/// `GET /console/report.pdf`: the report's lines on A4 pages.
pub(super) fn pdf(facts: &ComplianceFacts, chain: &Chain) -> Vec<u8> {
    let wrapped: Vec<String> = lines(facts, chain).iter().flat_map(|l| wrap(l)).collect();
    let pages = wrapped
        .chunks(PAGE_LINES)
        .map(|chunk| {
            let mut ops = vec![
                Op::StartTextSection,
                Op::SetTextCursor { pos: Point::new(Mm(18.0), Mm(280.0)) },
                Op::SetFont { font: PdfFontHandle::Builtin(BuiltinFont::Helvetica), size: Pt(9.0) },
                Op::SetLineHeight { lh: Pt(12.0) },
            ];
            for line in chunk {
                ops.push(Op::ShowText { items: vec![TextItem::Text(line.clone())] });
                ops.push(Op::AddLineBreak);
            }
            ops.push(Op::EndTextSection);
            PdfPage::new(Mm(210.0), Mm(297.0), ops)
        })
        .collect();
    let mut doc = PdfDocument::new(&format!("souverain compliance report {}", day(facts)));
    doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Promise: report lines keep Latin-1 letters (operator names), replace what the PDF's
    /// built-in font cannot encode, wrap at spaces, and cut a word longer than a line, losing
    /// no character.
    #[test]
    fn lines_wrap_and_keep_what_the_font_encodes() {
        assert_eq!(wrap("Telefónica Deutschland → DE"), ["Telefónica Deutschland ? DE"]);
        let words = "word ".repeat(30);
        let wrapped = wrap(words.trim_end());
        assert!(wrapped.len() == 2 && wrapped.iter().all(|l| l.chars().count() <= WIDTH_CHARS), "{wrapped:?}");
        assert!(wrapped[1].starts_with("    word"), "continuation lines are indented");
        let long = "x".repeat(WIDTH_CHARS * 2 + 5);
        let cut = wrap(&format!("hash {long}"));
        assert!(cut.iter().all(|l| l.chars().count() <= WIDTH_CHARS), "{cut:?}");
        assert_eq!(cut.concat().chars().filter(|c| *c == 'x').count(), long.len());
    }
}
