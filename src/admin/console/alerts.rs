//! The alerts a Prometheus has pending or firing for this gateway (the rules shipped in
//! `config/alerts.yml`, all named `Souverain…`), read from its `/api/v1/alerts` when
//! `[admin] prometheus_url` names one, for the health page. The page says when none is
//! configured or it does not answer: no answer is never shown as "no alerts".

use std::collections::BTreeMap;
use std::time::Duration;

use maud::{Markup, html};
use serde::Deserialize;

/// How long the health page waits for Prometheus before saying it did not answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// What the page can say about the alerts.
pub(super) enum Alerts {
    /// No `[admin] prometheus_url`.
    NotConfigured,
    /// Prometheus at this URL did not answer usably, and why.
    Unanswered { url: String, why: String },
    /// The gateway's alerts Prometheus holds, firing ones first.
    Active { url: String, alerts: Vec<Alert> },
}

/// One alert as Prometheus's API gives it (labels and annotations already rendered).
#[derive(Debug, Deserialize)]
pub(super) struct Alert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    /// `firing` or `pending` (held for less than the rule's `for`).
    state: String,
    #[serde(rename = "activeAt")]
    active_at: Option<String>,
}

impl Alert {
    fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    fn firing(&self) -> bool {
        self.state == "firing"
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<AnswerData>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct AnswerData {
    alerts: Vec<Alert>,
}

/// Asks the Prometheus at `url` (if any) for its alerts.
pub(super) async fn fetch(url: Option<&str>) -> Alerts {
    let Some(url) = url else { return Alerts::NotConfigured };
    let asked = crate::admin::client::request(http::Method::GET, url, "/api/v1/alerts", None, None, None);
    let answered = match tokio::time::timeout(ANSWER_WITHIN, asked).await {
        Err(_) => Err(format!("no answer within {} s", ANSWER_WITHIN.as_secs())),
        Ok(Err(e)) => Err(e),
        Ok(Ok((200, body))) => parse(&body),
        Ok(Ok((status, _))) => Err(format!("HTTP {status} from /api/v1/alerts")),
    };
    match answered {
        Ok(alerts) => Alerts::Active { url: url.to_owned(), alerts },
        Err(why) => Alerts::Unanswered { url: url.to_owned(), why },
    }
}

/// The gateway's alerts in an `/api/v1/alerts` answer, firing before pending, then by name.
fn parse(body: &str) -> Result<Vec<Alert>, String> {
    let answer: Answer = serde_json::from_str(body).map_err(|e| format!("not an alerts answer: {e}"))?;
    let data = match (answer.status.as_str(), answer.data) {
        ("success", Some(data)) => data,
        (status, _) => return Err(format!("status {status}: {}", answer.error.unwrap_or_default())),
    };
    let mut alerts: Vec<Alert> = data.alerts.into_iter().filter(|a| a.name().starts_with("Souverain")).collect();
    alerts.sort_by(|a, b| b.firing().cmp(&a.firing()).then_with(|| a.name().cmp(b.name())));
    Ok(alerts)
}

/// The health page's alerts section.
pub(super) fn section(alerts: &Alerts) -> Markup {
    html! {
        h2 { "Alerts" }
        @match alerts {
            Alerts::NotConfigured => p #alerts.muted {
                "No Prometheus is configured ([admin] prometheus_url): the conditions above are the gateway's own view." }
            Alerts::Unanswered { url, why } => p #alerts.bad { "Prometheus at " (url) " did not answer: " (why) "." }
            Alerts::Active { url, alerts } if alerts.is_empty() => p #alerts.ok { "Prometheus at " (url) " has no alert pending or firing." }
            Alerts::Active { url, alerts } => {
                p { "From Prometheus at " (url) ":" }
                table #alerts {
                    tr { th { "Alert" } th { "Severity" } th { "State" } th { "Since" } th { "Summary" } }
                    @for a in alerts {
                        tr {
                            td { (a.name()) }
                            td { (a.labels.get("severity").map_or("", String::as_str)) }
                            td { @if a.firing() { span.bad { "firing" } } @else { span.warn { (a.state) } } }
                            td { (a.active_at.as_deref().unwrap_or("")) }
                            td { (a.annotations.get("summary").map_or("", String::as_str)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as Prometheus 2.x gives it: one of our alerts pending, one firing, and one of
    /// another system's.
    const ANSWER: &str = r#"{"status":"success","data":{"alerts":[
        {"labels":{"alertname":"SouverainProviderDown","provider":"local-de","severity":"warning"},
         "annotations":{"summary":"provider local-de fails its health checks"},
         "state":"pending","activeAt":"2026-12-05T16:00:01Z","value":"0e+00"},
        {"labels":{"alertname":"NodeDiskFull","severity":"critical"},"annotations":{},
         "state":"firing","activeAt":"2026-12-05T15:00:00Z","value":"1e+00"},
        {"labels":{"alertname":"SouverainWriteQuorumLost","policy":"de-only","severity":"critical"},
         "annotations":{"summary":"policy de-only cannot reach its write quorum: PUTs answer 503"},
         "state":"firing","activeAt":"2026-12-05T15:59:00Z","value":"0e+00"}]}}"#;

    /// Promise: the page lists the gateway's alerts, firing first, each with its severity,
    /// state, start and summary, and leaves other systems' alerts out.
    #[test]
    fn firing_alerts_come_first_and_other_systems_alerts_are_left_out() {
        let alerts = parse(ANSWER).unwrap();
        let shown: Vec<(&str, &str)> = alerts.iter().map(|a| (a.name(), a.state.as_str())).collect();
        assert_eq!(shown, [("SouverainWriteQuorumLost", "firing"), ("SouverainProviderDown", "pending")]);
        let page = section(&Alerts::Active { url: "http://p".into(), alerts }).into_string();
        assert!(page.contains("<tr><td>SouverainWriteQuorumLost</td><td>critical</td><td><span class=\"bad\">firing</span></td><td>2026-12-05T15:59:00Z</td><td>policy de-only cannot reach its write quorum: PUTs answer 503</td></tr>"), "{page}");
        assert!(page.contains("<td><span class=\"warn\">pending</span></td>"), "{page}");
        assert!(!page.contains("NodeDiskFull"), "{page}");
    }

    /// Promise: an error answer or one that is not Prometheus's says why; it is never taken as
    /// "no alerts".
    #[test]
    fn an_unusable_answer_says_why() {
        let e = parse(r#"{"status":"error","errorType":"internal","error":"rule manager down"}"#).unwrap_err();
        assert_eq!(e, "status error: rule manager down");
        assert!(parse("<html>").unwrap_err().starts_with("not an alerts answer"));
        let page = section(&Alerts::Unanswered { url: "http://p".into(), why: e }).into_string();
        assert!(page.contains("Prometheus at http://p did not answer: status error: rule manager down."), "{page}");
    }
}
