//! Crypto-shredding from the console, behind the strongest confirmation the console has: the
//! keys page offers the buckets' own KEKs (never the default one); the next page says which
//! buckets' data and how many data keys the KMS would destroy for ever (or why shredding is
//! refused now: Object Lock, data keys still under another key), and its "Apply" (a POST with
//! the CSRF token, by a token whose role may manage keys) destroys the key only when the key's
//! name is typed again, as `POST /admin/v1/keys/{kek}/shred` (or `souverain admin keys shred
//! --yes-destroy-data`) does.

use http::StatusCode;
use maud::{Markup, html};

use super::keys::PAGE;
use super::layout::{View, frame};
use super::pages::failed;
use crate::service::admin::{AdminOps, KeysView};

const ACTION: &str = "/console/keys/shred";

/// The keys shredding may name: the buckets' own, not yet shredded.
fn candidates(keys: &KeysView) -> Vec<&str> {
    let mut out: Vec<&str> = keys
        .bucket_keks
        .iter()
        .map(|(_, k)| k.as_str())
        .filter(|k| *k != keys.default_kek && !keys.shredded.iter().any(|(s, _)| s == k))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The keys page's section.
pub(super) fn form(view: &View, keys: &KeysView) -> Markup {
    let offered = candidates(keys);
    html! {
        h2 { "Crypto-shredding" }
        @if offered.is_empty() {
            p #shred.muted { "No bucket has a key of its own. Shredding destroys a bucket's own key (given above); "
                "the default key, which wraps every other bucket's data, cannot be shredded." }
        } @else {
            form #shred method="post" action=(format!("{ACTION}/preview")) {
                input type="hidden" name="csrf" value=(view.csrf);
                label { "Key " select name="kek" { @for k in &offered { option value=(k) { (k) } } } }
                " " button type="submit" { "Show what shredding would destroy" }
            }
        }
    }
}

fn value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim())
}

async fn preview(service: &AdminOps, view: &View, kek: &str) -> (StatusCode, Markup) {
    let title = format!("Shred key {kek}: confirm");
    let plan = match service.preview_shred(kek).await {
        Ok(p) => p,
        Err(e) => return (super::inspect::status_of(&e), frame(view, PAGE, &title, &failed(&e))),
    };
    let content = html! {
        p #destroys.bad { "Shredding destroys key " (kek) " in the KMS, for ever. The " (plan.data_keys)
            " data keys it wraps — every object version and open upload of " (plan.buckets.join(", "))
            " — can then never be unwrapped again: that data becomes unreadable at every provider, copies a provider "
            "failed to delete included. This cannot be undone." }
        @if plan.customer_keyed > 0 {
            p #customer-keyed { (plan.customer_keyed) " objects of these buckets are under their customers' own keys "
                "(SSE-C): this key does not wrap them; their customers shred them by forgetting their keys." }
        }
        form #apply method="post" action=(format!("{ACTION}/apply")) {
            input type="hidden" name="csrf" value=(view.csrf);
            input type="hidden" name="kek" value=(kek);
            p { label { "Type the key's name to confirm " input name="confirm" size="24" autocomplete="off"; } }
            button type="submit" { "Destroy the key" } " " a href=(PAGE) { "Cancel" }
        }
    };
    (StatusCode::OK, frame(view, PAGE, &title, &content))
}

/// A POST under `/console/keys/shred/`: `preview` for anyone who may read, `apply` for a role
/// that may manage keys (403 otherwise) and only with the key's name typed again (400
/// otherwise); nothing is destroyed on a refusal.
pub(super) async fn post(
    service: &AdminOps,
    principal: &crate::access::Principal,
    view: &View,
    what: &str,
    form: &[(String, String)],
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let Some(kek) = value(form, "kek").filter(|k| !k.is_empty()) else {
        return super::page(StatusCode::BAD_REQUEST, super::layout::problem("The form names no key."));
    };
    let shred = async {
        let page = |status, body: Markup| (status, frame(view, PAGE, "Crypto-shredding", &body));
        if value(form, "confirm") != Some(kek) {
            let why = html! { p.notice { "The key's name was not typed again: nothing was destroyed." } };
            return Err(page(StatusCode::BAD_REQUEST, why));
        }
        match service.shred_kek(&view.actor, kek).await {
            Ok(_) => Ok(()),
            Err(e) => Err(page(super::inspect::status_of(&e), failed(&e))),
        }
    };
    let action = crate::access::Action::AdminKeys;
    super::confirmation_then(PAGE, what, preview(service, view, kek), principal, action, shred).await
}
