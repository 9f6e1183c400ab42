//! A residency policy's rules changed from the console, behind the same kind of confirmation
//! as a provider's change: the form (`/console/policies/{id}`) holds the rules, the next page
//! shows the old and new rules in words and the dry run of the evacuation the change would
//! start over the buckets bound to the policy, and only its "Apply" (a POST with the CSRF
//! token, by a token whose role may change residency, while the policy is still as the
//! confirmation showed) applies it, as `PUT /admin/v1/policies/{id}` does. The scheme may
//! change too (replicas ↔ erasure-coded shards): the dry run then counts the streams the
//! evacuation job would write again in the new scheme.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::{failed, in_words};
use crate::config::raw::RawPolicy;
use crate::model::{Distinct, ResidencyPolicy};
use crate::service::admin::AdminOps;

const DISTINCT: [(&str, &str); 4] = [
    ("independence_group", "no two in one independence group"),
    ("operator", "no two with one operator"),
    ("country", "no two in one country"),
    ("none", "no constraint"),
];

/// The shards a replicated policy's form proposes should its scheme change (any two providers
/// of six may be lost at half the storage of three copies).
const DEFAULT_SHARDS: (u8, u8) = (4, 2);

fn distinct_name(d: Distinct) -> &'static str {
    match d {
        Distinct::IndependenceGroup => "independence_group",
        Distinct::Operator => "operator",
        Distinct::Country => "country",
        Distinct::None => "none",
    }
}

/// A digest of a policy: "Apply" is refused if it changed since the confirmation was shown.
fn fingerprint(p: &ResidencyPolicy) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &json))
}

fn listed(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// The policy the form's fields describe (the id kept from `current`, and its scheme when the
/// form names none); why not. Only the counts of the chosen scheme are read: replicas, or data
/// and parity shards.
fn from_form(current: &ResidencyPolicy, form: &[(String, String)]) -> Result<ResidencyPolicy, String> {
    let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let number = |name: &str| -> Result<Option<u8>, String> {
        match value(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| format!("{name}: not a number from 0 to 255")),
        }
    };
    let countries = value("allowed_countries").ok_or("the form lacks the policy's rules")?;
    let shards = match value("scheme") {
        None => current.erasure.is_some(),
        Some("replicas") => false,
        Some("rs") => true,
        Some(other) => return Err(format!("scheme {other:?}: expected replicas or rs")),
    };
    let raw = RawPolicy {
        id: current.id.clone(),
        allowed_countries: Some(list(countries)),
        allowed_jurisdictions: Some(list(value("allowed_jurisdictions").unwrap_or_default())),
        forbid_exposures: Some(list(value("forbid_exposures").unwrap_or_default())),
        scheme: Some(if shards { "rs" } else { "replicas" }.to_owned()),
        replicas: if shards { None } else { number("replicas")? },
        write_quorum: number("write_quorum")?,
        data_shards: if shards { number("data_shards")? } else { None },
        parity_shards: if shards { number("parity_shards")? } else { None },
        distinct: value("distinct").map(str::to_owned),
        min_distinct_countries: number("min_distinct_countries")?,
        min_distinct_operators: number("min_distinct_operators")?,
        required_certifications: list(value("required_certifications").unwrap_or_default()),
    };
    crate::config::parse_policy(raw).map_err(|e| e.to_string())
}

fn current(service: &AdminOps, id: &str) -> Option<ResidencyPolicy> {
    service.policies().into_iter().find(|p| p.id == id)
}

fn no_policy(view: &View) -> (StatusCode, Markup) {
    (StatusCode::NOT_FOUND, frame(view, "/console/policies", "Policy", &html! { p.notice { "No such policy." } }))
}

/// The rules as form fields, filled from `p`.
fn fields(p: &ResidencyPolicy) -> Markup {
    let text = |name: &str, label: &str, value: String| {
        html! { p { label { (label) " " input name=(name) value=(value) size="60"; } } }
    };
    html! {
        (text("allowed_countries", "Allowed countries (EU and EEA expand)", listed(p.allowed_countries.iter().map(ToString::to_string))))
        (text("allowed_jurisdictions", "Allowed jurisdictions of the ownership chain (empty: any)", listed(p.allowed_jurisdictions.iter().map(ToString::to_string))))
        (text("forbid_exposures", "Forbidden exposures", listed(p.forbid_exposures.iter().cloned())))
        (text("required_certifications", "Required certifications", listed(p.required_certifications.iter().cloned())))
        p { label { "Scheme "
            select name="scheme" {
                option value="replicas" selected[p.erasure.is_none()] { "whole copies (replicas)" }
                option value="rs" selected[p.erasure.is_some()] { "erasure-coded shards (Reed–Solomon)" }
            }
        } }
        (text("replicas", "Replicas (with whole copies)", p.replicas.to_string()))
        (text("data_shards", "Data shards k (with shards)", p.erasure.map_or(DEFAULT_SHARDS.0, |e| e.data).to_string()))
        (text("parity_shards", "Parity shards m (with shards)", p.erasure.map_or(DEFAULT_SHARDS.1, |e| e.parity).to_string()))
        (text("write_quorum", "Write quorum (copies, or shards from k to k + m)", p.write_quorum.to_string()))
        (text("min_distinct_countries", "At least this many countries", p.min_distinct_countries.to_string()))
        (text("min_distinct_operators", "At least this many operators", p.min_distinct_operators.to_string()))
        p { label { "Independence "
            select name="distinct" {
                @for (name, words) in DISTINCT {
                    option value=(name) selected[name == distinct_name(p.distinct)] { (words) }
                }
            }
        } }
    }
}

/// `GET /console/policies/{id}`: the form.
pub(super) fn edit(service: &AdminOps, view: &View, id: &str) -> (StatusCode, Markup) {
    let Some(policy) = current(service, id) else { return no_policy(view) };
    let content = html! {
        p { "The change is shown with what it would move before it is applied." }
        form #edit method="post" action=(format!("/console/policies/{id}/preview")) {
            input type="hidden" name="csrf" value=(view.csrf);
            (fields(&policy))
            button type="submit" { "Show what would move" }
        }
    };
    (StatusCode::OK, frame(view, "/console/policies", &format!("Policy {id}"), &content))
}

/// `POST /console/policies/{id}/preview`: old and new rules, the dry run, the form that applies it.
async fn preview(service: &AdminOps, view: &View, id: &str, form: &[(String, String)]) -> (StatusCode, Markup) {
    let Some(before) = current(service, id) else { return no_policy(view) };
    let title = format!("Policy {id}: confirm");
    let after = match from_form(&before, form) {
        Ok(a) => a,
        Err(why) => {
            return (StatusCode::BAD_REQUEST, frame(view, "/console/policies", &title, &html! { p.notice { (why) } }));
        }
    };
    let dry_run = match service.preview_policy_change(&after).await {
        Ok(d) => d,
        Err(e) => return (super::inspect::status_of(&e), frame(view, "/console/policies", &title, &failed(&e))),
    };
    let content = html! {
        table #change {
            tr { th { "Now" } th { "After" } }
            tr { td { ul { @for r in in_words(&before) { li { (r) } } } } td { ul { @for r in in_words(&after) { li { (r) } } } } }
        }
        (super::changes::moves(&dry_run))
        form #apply method="post" action=(format!("/console/policies/{id}/apply")) {
            input type="hidden" name="csrf" value=(view.csrf);
            @for (k, v) in form.iter().filter(|(k, _)| k != "csrf" && k != "shown") { input type="hidden" name=(k) value=(v); }
            input type="hidden" name="shown" value=(fingerprint(&before));
            button type="submit" { "Apply" } " " a href="/console/policies" { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, "/console/policies", &title, &content))
}

/// `POST /console/policies/{id}/apply` (the caller checked the role).
async fn apply(
    service: &AdminOps,
    view: &View,
    id: &str,
    form: &[(String, String)],
) -> Result<(), (StatusCode, Markup)> {
    let title = format!("Policy {id}");
    let page = |status, body: Markup| (status, frame(view, "/console/policies", &title, &body));
    let Some(before) = current(service, id) else { return Err(no_policy(view)) };
    let after = from_form(&before, form).map_err(|why| page(StatusCode::BAD_REQUEST, html! { p.notice { (why) } }))?;
    let shown = form.iter().find(|(k, _)| k == "shown").map(|(_, v)| v.clone());
    let unchanged = |now: Option<&ResidencyPolicy>| match now {
        Some(p) if shown.as_deref() == Some(fingerprint(p).as_str()) => Ok(()),
        _ => Err("the policy changed since this confirmation was shown: review the change again".to_owned()),
    };
    match service.put_policy_checked(&view.actor, after, unchanged).await {
        Ok(_) => Ok(()),
        Err(e) => Err(page(super::inspect::status_of(&e), failed(&e))),
    }
}

/// A POST under `/console/policies/{id}/`: `preview` for anyone who may read, `apply` for a
/// role that may change residency (403 otherwise, nothing done).
pub(super) async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    id: &str,
    what: &str,
    form: &[(String, String)],
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let residency = crate::access::Action::AdminResidency;
    let (preview, apply) = (preview(service, view, id, form), apply(service, view, id, form));
    super::confirmation(what, preview, principal, residency, apply).await
}
