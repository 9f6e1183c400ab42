//! Binding a bucket to another residency policy from the console, behind the same kind of
//! confirmation as a provider's change: the bucket page's form names the policy, the next page
//! shows the dry run of the evacuation the binding would start (the bucket's replicas or
//! shards and bytes that would leave each provider), and only its "Apply" (a POST with the
//! CSRF token, by a token whose role may change residency, while the bucket is still bound as
//! the confirmation showed) binds it, as `PUT /admin/v1/buckets/{bucket}/policy` does.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::failed;
use crate::service::admin::AdminOps;

/// The form's fields: the policy to bind to, and from a confirmation the policy the bucket
/// was bound to when it was shown.
pub(super) struct Binding {
    policy: String,
    shown: Option<String>,
}

impl Binding {
    /// From a submitted form; `None` without a policy.
    pub(super) fn from_form(form: &[(String, String)]) -> Option<Self> {
        let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Some(Self { policy: value("policy").filter(|p| !p.is_empty())?, shown: value("shown") })
    }
}

fn page_of(bucket: &str) -> String {
    format!("/console/buckets/{bucket}")
}

/// The bucket page's form: every other policy to choose from.
pub(super) fn form(service: &AdminOps, view: &View, bucket: &str, current: &str) -> Markup {
    html! {
        h2 { "Bind to another policy" }
        form #bind method="post" action=(format!("{}/preview", page_of(bucket))) {
            input type="hidden" name="csrf" value=(view.csrf);
            label { "Policy "
                select name="policy" {
                    @for p in service.policies().iter().filter(|p| p.id != current) { option value=(p.id) { (p.id) } }
                }
            }
            " " button type="submit" { "Show what would move" }
        }
    }
}

/// `POST /console/buckets/{bucket}/preview`: the binding, its dry run, the form that applies it.
pub(super) async fn preview(service: &AdminOps, view: &View, bucket: &str, binding: &Binding) -> (StatusCode, Markup) {
    let title = format!("Bucket {bucket}: confirm");
    let current = match service.explain_placement(bucket).await {
        Ok(x) => x.policy,
        Err(e) => return (super::inspect::status_of(&e), frame(view, "/console/policies", &title, &failed(&e))),
    };
    let dry_run = match service.preview_bucket_binding(bucket, &binding.policy).await {
        Ok(d) => d,
        Err(e) => return (super::inspect::status_of(&e), frame(view, "/console/policies", &title, &failed(&e))),
    };
    let content = html! {
        table #change { tr { th {} th { "Now" } th { "After" } } tr { th { "Policy" } td { (current) } td { (binding.policy) } } }
        (super::changes::moves(&dry_run))
        form #apply method="post" action=(format!("{}/apply", page_of(bucket))) {
            input type="hidden" name="csrf" value=(view.csrf);
            input type="hidden" name="policy" value=(binding.policy);
            input type="hidden" name="shown" value=(current);
            button type="submit" { "Apply" } " " a href=(page_of(bucket)) { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, "/console/policies", &title, &content))
}

/// `POST /console/buckets/{bucket}/apply` (the caller checked the role): binds the bucket
/// unless its binding changed since the confirmation; Ok(()) sends to the jobs page.
pub(super) async fn apply(
    service: &AdminOps,
    view: &View,
    bucket: &str,
    binding: &Binding,
) -> Result<(), (StatusCode, Markup)> {
    let title = format!("Bucket {bucket}");
    let refused = |status, e: &crate::error::Error| (status, frame(view, "/console/policies", &title, &failed(e)));
    let current = service.explain_placement(bucket).await.map_err(|e| refused(super::inspect::status_of(&e), &e))?;
    if binding.shown.as_deref() != Some(current.policy.as_str()) {
        let why = "the bucket's binding changed since this confirmation was shown: review the change again";
        return Err((StatusCode::CONFLICT, frame(view, "/console/policies", &title, &html! { p.notice { (why) } })));
    }
    match service.bind_bucket(&view.actor, bucket, &binding.policy).await {
        Ok(_) => Ok(()),
        Err(e) => Err(refused(super::inspect::status_of(&e), &e)),
    }
}

/// A POST under `/console/buckets/{bucket}/`: `preview` for anyone who may read, `apply` for
/// a role that may change residency (403 otherwise, nothing done).
pub(super) async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    bucket: &str,
    what: &str,
    form: &[(String, String)],
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let Some(bucket) = crate::admin::percent_decode(bucket) else {
        return super::page(StatusCode::BAD_REQUEST, super::layout::problem("Bad bucket name."));
    };
    let Some(binding) = Binding::from_form(form) else {
        return super::page(StatusCode::BAD_REQUEST, super::layout::problem("The form names no policy."));
    };
    let residency = crate::access::Action::AdminResidency;
    let (preview, apply) = (preview(service, view, &bucket, &binding), apply(service, view, &bucket, &binding));
    super::confirmation(what, preview, principal, residency, apply).await
}
