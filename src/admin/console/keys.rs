//! The KEKs in force and their rotation from the console, behind a confirmation: the keys
//! page names the default KEK, the buckets with their own and the shredded ones; a rotation's
//! confirmation shows which KEKs would get a new version, the buckets whose data keys each
//! wraps and how many data keys and access-key secrets the rotation job would rewrap (no
//! provider byte is read or written); only its "Apply" (a POST with the CSRF token, by a
//! token whose role may manage keys) rotates, as `POST /admin/v1/keys/rotate` does. A bucket's
//! own key ([`super::bucket_kek`]) and its crypto-shredding ([`super::shred`]) start here too.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::failed;
use crate::service::admin::AdminOps;

pub(super) const PAGE: &str = "/console/keys";
/// The form's value for "every KEK in force".
const EVERY: &str = "*";

/// What the form asks to rotate.
enum Choice {
    /// Every KEK in force.
    Every,
    /// This one.
    One(String),
}

impl Choice {
    fn from_form(form: &[(String, String)]) -> Option<Self> {
        let kek = form.iter().find(|(k, _)| k == "kek").map(|(_, v)| v.clone())?;
        Some(if kek == EVERY { Self::Every } else { Self::One(kek) })
    }

    /// The KEK to rotate, `None` for every one (as `AdminOps::rotate_keys` takes it).
    fn kek(&self) -> Option<&str> {
        match self {
            Self::Every => None,
            Self::One(k) => Some(k),
        }
    }
}

/// `GET /console/keys`.
pub(super) async fn page(service: &AdminOps, view: &View) -> (StatusCode, Markup) {
    let keys = match service.keys_view().await {
        Ok(k) => k,
        Err(e) => return (super::inspect::status_of(&e), frame(view, PAGE, "Keys", &failed(&e))),
    };
    let buckets: Vec<String> = match service.bucket_bindings().await {
        Ok(b) => b.into_iter().map(|(name, _)| name).collect(),
        Err(e) => return (super::inspect::status_of(&e), frame(view, PAGE, "Keys", &failed(&e))),
    };
    let mut names: Vec<&str> = keys.bucket_keks.iter().map(|(_, k)| k.as_str()).collect();
    names.push(&keys.default_kek);
    names.sort_unstable();
    names.dedup();
    let content = html! {
        table #keks {
            tr { th { "Key-encryption key" } th { "Wraps the data keys of" } }
            tr { td { (keys.default_kek) } td { "every bucket without a key of its own, and users' access-key secrets" } }
            @for (bucket, kek) in &keys.bucket_keks { tr { td { (kek) } td { "bucket " (bucket) } } }
            @for (kek, ms) in &keys.shredded { tr.shredded { td { (kek) } td { "shredded " (crate::service::admin::utc(*ms)) } } }
        }
        h2 { "Rotate" }
        form #rotate method="post" action=(format!("{PAGE}/preview")) {
            input type="hidden" name="csrf" value=(view.csrf);
            label { "Key "
                select name="kek" {
                    option value=(EVERY) { "every key in force" }
                    @for k in &names { option value=(k) { (k) } }
                }
            }
            " " button type="submit" { "Show what a rotation would do" }
        }
        (super::bucket_kek::form(view, &buckets))
        (super::shred::form(view, &keys))
    };
    (StatusCode::OK, frame(view, PAGE, "Keys", &content))
}

/// `POST /console/keys/preview`: what the rotation would do, and the form that starts it.
async fn preview(service: &AdminOps, view: &View, choice: &Choice) -> (StatusCode, Markup) {
    let title = "Rotate: confirm";
    let plan = match service.preview_rotation(choice.kek()).await {
        Ok(p) => p,
        Err(e) => return (super::inspect::status_of(&e), frame(view, PAGE, title, &failed(&e))),
    };
    let content = html! {
        table #rotation {
            tr { th { "Gets a new version" } th { "Buckets whose data keys it wraps" } }
            @for (k, buckets) in &plan.keks { tr { td { (k) } td { (buckets.join(", ")) } } }
        }
        p #rewraps { "The rotation job would then wrap again " (plan.data_keys) " data keys of object versions "
            "(and those of open multipart uploads) and " (plan.access_keys) " access-key secrets under the new "
            "versions. No provider byte is read or written; objects stay readable throughout." }
        form #apply method="post" action=(format!("{PAGE}/apply")) {
            input type="hidden" name="csrf" value=(view.csrf);
            input type="hidden" name="kek" value=(choice.kek().unwrap_or(EVERY));
            button type="submit" { "Apply" } " " a href=(PAGE) { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, PAGE, title, &content))
}

/// A POST under `/console/keys/`: `preview` for anyone who may read, `apply` for a role that
/// may manage keys (403 otherwise, nothing done).
pub(super) async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    what: &str,
    form: &[(String, String)],
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    if let Some(what) = what.strip_prefix("bucket/") {
        return super::bucket_kek::post(service, principal, view, what, form).await;
    }
    if let Some(what) = what.strip_prefix("shred/") {
        return super::shred::post(service, principal, view, what, form).await;
    }
    let Some(choice) = Choice::from_form(form) else {
        return super::page(StatusCode::BAD_REQUEST, super::layout::problem("The form names no key."));
    };
    let rotate = async {
        let rotated = service.rotate_keys(&view.actor, choice.kek()).await;
        rotated.map(|_| ()).map_err(|e| (super::inspect::status_of(&e), frame(view, PAGE, "Rotate", &failed(&e))))
    };
    super::confirmation(what, preview(service, view, &choice), principal, crate::access::Action::AdminKeys, rotate)
        .await
}
