//! A bucket given its own KEK from the console (the step before crypto-shredding it), behind a
//! confirmation: the keys page's form names the bucket and the key, the next page says how many
//! data keys the rotation job would then wrap under that key (created in the KMS if missing;
//! no provider byte read or written), and only its "Apply" (a POST with the CSRF token, by a
//! token whose role may manage keys) does it, as `PUT /admin/v1/buckets/{bucket}/kek` does.

use http::StatusCode;
use maud::{Markup, html};

use super::layout::{View, frame};
use super::pages::failed;
use crate::service::admin::AdminOps;

const ACTION: &str = "/console/keys/bucket";

/// The form's bucket and key.
struct Move {
    bucket: String,
    kek: String,
}

impl Move {
    fn from_form(form: &[(String, String)]) -> Option<Self> {
        let value = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
        Some(Self { bucket: value("bucket").filter(|b| !b.is_empty())?, kek: value("kek").filter(|k| !k.is_empty())? })
    }

    fn hidden(&self) -> Markup {
        html! { input type="hidden" name="bucket" value=(self.bucket); input type="hidden" name="kek" value=(self.kek); }
    }
}

/// The keys page's form: every bucket to choose from, and the key's name.
pub(super) fn form(view: &View, buckets: &[String]) -> Markup {
    html! {
        h2 { "A bucket's own key" }
        form #bucket-kek method="post" action=(format!("{ACTION}/preview")) {
            input type="hidden" name="csrf" value=(view.csrf);
            label { "Bucket " select name="bucket" { @for b in buckets { option value=(b) { (b) } } } }
            " " label { "Key " input name="kek" size="24"; }
            " " button type="submit" { "Show what would change" }
        }
    }
}

async fn preview(service: &AdminOps, view: &View, to: &Move) -> (StatusCode, Markup) {
    let title = format!("Bucket {}: its own key, confirm", to.bucket);
    let keys = match service.preview_bucket_kek(&to.bucket, &to.kek).await {
        Ok(n) => n,
        Err(e) => return (super::inspect::status_of(&e), frame(view, super::keys::PAGE, &title, &failed(&e))),
    };
    let content = html! {
        p #rewraps { "Bucket " (to.bucket) "'s data keys would be wrapped under key " (to.kek)
            " (created in the KMS if it does not exist): the rotation job would wrap again " (keys)
            " data keys of object versions (and those of open multipart uploads). No provider byte is read or "
            "written. Once done, shredding " (to.kek) " makes this bucket's data unreadable everywhere." }
        form #apply method="post" action=(format!("{ACTION}/apply")) {
            input type="hidden" name="csrf" value=(view.csrf);
            (to.hidden())
            button type="submit" { "Apply" } " " a href=(super::keys::PAGE) { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, super::keys::PAGE, &title, &content))
}

/// A POST under `/console/keys/bucket/`: `preview` for anyone who may read, `apply` for a role
/// that may manage keys (403 otherwise, nothing done).
pub(super) async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    what: &str,
    form: &[(String, String)],
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let Some(to) = Move::from_form(form) else {
        return super::page(StatusCode::BAD_REQUEST, super::layout::problem("The form names no bucket or key."));
    };
    let set = async {
        let done = service.set_bucket_kek(&view.actor, &to.bucket, &to.kek).await;
        done.map(|_| ())
            .map_err(|e| (super::inspect::status_of(&e), frame(view, super::keys::PAGE, "Keys", &failed(&e))))
    };
    super::confirmation(what, preview(service, view, &to), principal, crate::access::Action::AdminKeys, set).await
}
