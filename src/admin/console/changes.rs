//! Changes from the console, each behind a confirmation that shows what it would do: a
//! provider's attributes (country, operator, jurisdictions, exposures, independence group,
//! certifications) or retirement are edited, the next page shows the dry run of the
//! evacuation it would start (replicas and bytes per provider, buckets whose policy could no
//! longer be met), and only its "Apply" (a POST with the CSRF token, by a token whose role may
//! change residency) applies it, as `PUT /admin/v1/providers/{id}` does; the jobs page then
//! shows the evacuation's progress.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::failed;
use crate::config::ProviderUpdate;
use crate::config::raw::RawCertification;
use crate::model::{ProviderId, ProviderInfo};
use crate::service::admin::{AdminOps, EvacuationPreview};

/// The provider attributes the form edits (`retired` is a checkbox of its own).
const FIELDS: [(&str, &str); 6] = [
    ("country", "Country of the data centre"),
    ("operator", "Operator (contracting legal entity)"),
    ("jurisdictions", "Jurisdictions of the ownership chain (comma-separated)"),
    ("exposures", "Exposures (extraterritorial laws, comma-separated)"),
    ("independence_group", "Independence group (failure and legal domain)"),
    ("certifications", "Certifications (scheme and last valid day, e.g. secnumcloud 2027-06-30; comma-separated)"),
];

/// The form's fields as a change (those given; the others stay as they are) and, from a
/// confirmation, the fingerprint of the provider it showed.
pub(super) struct Edit {
    given: Vec<(&'static str, String)>,
    retired: bool,
    shown: Option<String>,
}

fn list(text: &str) -> Vec<String> {
    text.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect()
}

impl Edit {
    /// From a submitted form; `None` without the exposures field (a form that is not the
    /// console's: an absent field must not read as "none").
    pub(super) fn from_form(form: &[(String, String)]) -> Option<Self> {
        let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        value("exposures")?;
        let given = FIELDS.iter().filter_map(|(name, _)| Some((*name, value(name)?.to_owned()))).collect();
        Some(Self { given, retired: value("retired") == Some("on"), shown: value("shown").map(str::to_owned) })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.given.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    fn update(&self) -> Result<ProviderUpdate, String> {
        let certifications = match self.get("certifications") {
            None => None,
            Some(text) => Some(
                list(text)
                    .iter()
                    .map(|c| match c.split_whitespace().collect::<Vec<_>>()[..] {
                        [scheme, until] => {
                            Ok(RawCertification { scheme: scheme.to_owned(), valid_until: until.to_owned() })
                        }
                        _ => Err(format!("certification \"{c}\": give its scheme and last valid day (YYYY-MM-DD)")),
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        Ok(ProviderUpdate {
            country: self.get("country").map(|c| c.trim().to_owned()),
            operator: self.get("operator").map(|o| o.trim().to_owned()),
            jurisdictions: self.get("jurisdictions").map(list),
            exposures: self.get("exposures").map(|e| list(e).into_iter().map(|x| x.to_lowercase()).collect()),
            independence_group: self.get("independence_group").map(|g| g.trim().to_owned()),
            certifications,
            retired: Some(self.retired),
        })
    }

    /// The provider with this change applied.
    fn apply_to(&self, current: &ProviderInfo) -> Result<ProviderInfo, String> {
        self.update()?.apply(current).map_err(|e| e.to_string())
    }

    /// The change's fields, and the fingerprint of the provider as the confirmation showed
    /// it, as hidden inputs of the confirmation's form.
    fn hidden(&self, before: &ProviderInfo) -> Markup {
        html! {
            @for (name, value) in &self.given { input type="hidden" name=(name) value=(value); }
            @if self.retired { input type="hidden" name="retired" value="on"; }
            input type="hidden" name="shown" value=(fingerprint(before));
        }
    }
}

/// An attribute as the form shows it.
fn shown_value(p: &ProviderInfo, name: &str) -> String {
    let join = |items: Vec<String>| items.join(", ");
    match name {
        "country" => p.country.to_string(),
        "operator" => p.operator.clone(),
        "jurisdictions" => join(p.jurisdictions.iter().map(ToString::to_string).collect()),
        "exposures" => join(p.exposures.clone()),
        "independence_group" => p.independence_group.clone(),
        "certifications" => join(
            p.certifications
                .iter()
                .map(|c| format!("{} {}", c.scheme, crate::model::day::format_day(c.valid_until)))
                .collect(),
        ),
        _ => String::new(),
    }
}

/// A digest of a provider's attributes: "Apply" is refused if they changed since the
/// confirmation was shown (another admin's change is never overwritten unseen).
fn fingerprint(p: &ProviderInfo) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    hex::encode(ring::digest::digest(&ring::digest::SHA256, &json))
}

fn provider(service: &AdminOps, id: &str) -> Option<(ProviderId, ProviderInfo)> {
    let id = ProviderId::parse(id)?;
    let info = service.providers_view().into_iter().find(|p| p.info.id == id)?.info;
    Some((id, info))
}

fn no_provider(view: &View) -> (StatusCode, Markup) {
    (StatusCode::NOT_FOUND, frame(view, "/console/", "Provider", &html! { p.notice { "No such provider." } }))
}

/// `GET /console/providers/{id}`: the form.
pub(super) fn edit(service: &AdminOps, view: &View, id: &str) -> (StatusCode, Markup) {
    let Some((id, info)) = provider(service, id) else { return no_provider(view) };
    let action = format!("/console/providers/{}/preview", id.as_str());
    let content = html! {
        p { (info.operator) ", " (info.country) ". The change is shown with what it would move before it is applied." }
        form #edit method="post" action=(action) {
            input type="hidden" name="csrf" value=(view.csrf);
            @for (name, label) in FIELDS {
                p { label { (label) " " input name=(name) value=(shown_value(&info, name)) size="40"; } }
            }
            p { label { input type="checkbox" name="retired" checked[info.retired]; " Retired (no policy may use it)" } }
            button type="submit" { "Show what would move" }
        }
    };
    (StatusCode::OK, frame(view, "/console/", &format!("Provider {}", id.as_str()), &content))
}

/// `POST /console/providers/{id}/preview`: the change, the dry run, and the form that applies it.
pub(super) async fn preview(service: &AdminOps, view: &View, id: &str, edit: &Edit) -> (StatusCode, Markup) {
    let Some((id, before)) = provider(service, id) else { return no_provider(view) };
    let title = format!("Provider {}: confirm", id.as_str());
    let after = match edit.apply_to(&before) {
        Ok(a) => a,
        Err(why) => return (StatusCode::BAD_REQUEST, frame(view, "/console/", &title, &html! { p.notice { (why) } })),
    };
    let dry_run = match service.preview_provider_change(&id, after.clone()).await {
        Ok(d) => d,
        Err(e) => return (super::inspect::status_of(&e), frame(view, "/console/", &title, &failed(&e))),
    };
    let content = html! {
        table #change {
            tr { th {} th { "Now" } th { "After" } }
            @for (name, label) in FIELDS {
                tr { th { (label.split(" (").next().unwrap_or(label)) } td { (shown_value(&before, name)) } td { (shown_value(&after, name)) } }
            }
            tr { th { "Retired" } td { (before.retired) } td { (after.retired) } }
        }
        (moves(&dry_run))
        form #apply method="post" action=(format!("/console/providers/{}/apply", id.as_str())) {
            input type="hidden" name="csrf" value=(view.csrf);
            (edit.hidden(&before))
            button type="submit" { "Apply" } " " a href="/console/" { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, "/console/", &title, &content))
}

/// The dry run of an evacuation as every confirmation shows it (a provider's change, a
/// policy's, a bucket's binding).
pub(super) fn moves(dry_run: &EvacuationPreview) -> Markup {
    html! {
        h2 { "What the evacuation would move (" (dry_run.versions) " object versions and " (dry_run.upload_parts)
            " parts of open uploads looked at)" }
        @if dry_run.leaving.is_empty() && dry_run.convert_streams == 0 { p #nothing-moves { "Nothing would move." } }
        @else {
            table #dry-run {
                tr { th { "Off provider" } th { "Replicas or shards" } th { "Bytes" } }
                @for l in &dry_run.leaving { tr { td { (l.provider) } td { (l.replicas) } td { (l.bytes) } } }
            }
        }
        @if dry_run.convert_streams > 0 {
            p #converting { (dry_run.convert_streams) " streams (" (dry_run.convert_bytes)
                " bytes) would be written again in the policy's scheme (replicas or shards)." }
        }
        @if dry_run.convert_customer_keyed > 0 {
            p #customer-keyed { (dry_run.convert_customer_keyed) " object versions would keep their scheme: their "
                "data keys are under their customers' own keys (SSE-C); each owner converts theirs by copying it "
                "onto itself with the key." }
        }
        @if !dry_run.unplaceable.is_empty() {
            p.notice #unplaceable { "No placement would satisfy the policy of: " (dry_run.unplaceable.join(", "))
                ". Their data outside policy would have nowhere to go." }
        }
    }
}

/// `POST /console/providers/{id}/apply` (the caller checked the role): applies the change;
/// Ok(()) sends to the jobs page, else the page saying why.
pub(super) async fn apply(service: &AdminOps, view: &View, id: &str, edit: &Edit) -> Result<(), (StatusCode, Markup)> {
    let title = format!("Provider {id}");
    let unchanged = |current: &ProviderInfo| {
        if edit.shown.as_deref() == Some(fingerprint(current).as_str()) {
            edit.apply_to(current)
        } else {
            Err("the provider changed since this confirmation was shown: review the change again".to_owned())
        }
    };
    match service.update_provider(&view.actor, id, unchanged).await {
        Ok(_) => Ok(()),
        Err(e) => Err((super::inspect::status_of(&e), frame(view, "/console/", &title, &failed(&e)))),
    }
}

/// `GET /console/jobs`: each background job's state and progress, and whether one runs (the
/// page then asks to be reloaded every 2 s: a `Refresh` header, as the CSP allows no script).
pub(super) async fn jobs(service: &AdminOps, view: &View) -> (StatusCode, Markup, bool) {
    let mut jobs = Vec::new();
    for name in crate::model::jobs::ALL {
        match service.job(name).await {
            Ok(j) => jobs.push((name, j)),
            Err(e) => return (super::inspect::status_of(&e), frame(view, "/console/jobs", "Jobs", &failed(&e)), false),
        }
    }
    let running = jobs.iter().any(|(_, j)| j.as_ref().is_some_and(|j| j.state == "running"));
    let content = html! {
        table #jobs {
            tr { th { "Job" } th { "State" } th { "Progress" } th { "Moved" } th { "Failed" } th { "Why" } }
            @for (name, job) in &jobs {
                tr id=(format!("job-{name}")) {
                    td { (name) }
                    @if let Some(j) = job {
                        td.state { (j.state) }
                        td { progress value=(format!("{:.3}", j.progress)) max="1" {} " " (j.scanned) " / " (j.total) }
                        td.moved { (j.moved) } td.failed { (j.failed) } td { (j.reason) }
                    } @else { td.state { "never ran" } td {} td {} td {} td {} }
                }
            }
        }
    };
    (StatusCode::OK, frame(view, "/console/jobs", "Jobs", &content), running)
}
