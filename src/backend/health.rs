//! Passive provider health (DESIGN.md §6.3): what the outcomes of real requests say about a
//! provider. Each provider has a circuit breaker and a window of recent times to first byte;
//! the read path orders replicas and times its hedges from them, the write path leaves out
//! providers whose circuit is open. Fed by [`super::instrumented::Instrumented`], so every
//! caller (reads, writes, repair, scrub, checks) contributes.
//!
//! Time is passed in (`now`) rather than read here, so the state machine is tested exactly.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus::IntGauge;
use serde::Serialize;

use crate::model::ProviderId;

/// Consecutive failures that open a closed circuit.
const CONSECUTIVE_FAILURES_TO_OPEN: u32 = 5;
/// The error-rate rule: more than half of at least this many requests within the window.
const RATE_MIN_REQUESTS: usize = 20;
const RATE_WINDOW: Duration = Duration::from_secs(30);
/// How long a circuit stays open the first time; doubled on each failed probe, up to the cap.
const OPEN_FIRST: Duration = Duration::from_secs(30);
const OPEN_CAP: Duration = Duration::from_mins(5);
/// Time-to-first-byte samples kept, and how long one stays relevant: a provider that was slow
/// a while ago but has not been read since is tried again rather than shunned for ever.
const TTFB_SAMPLES: usize = 64;
const TTFB_RELEVANCE: Duration = Duration::from_mins(1);
/// No hedge before this, whatever the history says (DESIGN.md: floor 50 ms).
pub const HEDGE_FLOOR: Duration = Duration::from_millis(50);
/// The hedge budget is a token bucket counted in GETs: each GET adds one token, a hedge costs
/// twenty (5 % of GETs), and up to ten hedges can be saved up.
const HEDGE_COST: u32 = 20;
const HEDGE_BURST: u32 = 10 * HEDGE_COST;

/// A provider's circuit, as exported by `souverain_backend_circuit_state` (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Requests flow.
    Closed,
    /// The open period ended (or a health check succeeded): the next outcome decides.
    HalfOpen,
    /// Too many failures: writes leave the provider out, reads try it last.
    Open,
}

impl CircuitState {
    /// The gauge value.
    pub fn as_gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

#[derive(Debug)]
struct Breaker {
    state: CircuitState,
    consecutive_failures: u32,
    /// Outcomes within [`RATE_WINDOW`] (true = failure).
    recent: VecDeque<(Instant, bool)>,
    open_until: Option<Instant>,
    next_open_for: Duration,
}

impl Breaker {
    fn new() -> Self {
        Self {
            state: CircuitState::Closed,
            consecutive_failures: 0,
            recent: VecDeque::new(),
            open_until: None,
            next_open_for: OPEN_FIRST,
        }
    }

    /// Moves an open circuit whose time is up to half-open.
    fn tick(&mut self, now: Instant) {
        if self.state == CircuitState::Open && self.open_until.is_some_and(|t| now >= t) {
            self.state = CircuitState::HalfOpen;
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = CircuitState::Open;
        self.open_until = Some(now + self.next_open_for);
        self.next_open_for = (self.next_open_for * 2).min(OPEN_CAP);
        self.recent.clear();
    }

    fn record(&mut self, failed: bool, now: Instant) {
        self.tick(now);
        while self.recent.front().is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW) {
            self.recent.pop_front();
        }
        self.recent.push_back((now, failed));
        self.consecutive_failures = if failed { self.consecutive_failures.saturating_add(1) } else { 0 };
        match (self.state, failed) {
            (CircuitState::HalfOpen, false) => {
                self.state = CircuitState::Closed;
                self.next_open_for = OPEN_FIRST;
                self.open_until = None;
            }
            (CircuitState::HalfOpen, true) => self.open(now),
            (CircuitState::Closed, true) => {
                let failures = self.recent.iter().filter(|(_, f)| *f).count();
                let rate_trips = self.recent.len() >= RATE_MIN_REQUESTS && failures * 2 > self.recent.len();
                if self.consecutive_failures >= CONSECUTIVE_FAILURES_TO_OPEN || rate_trips {
                    self.open(now);
                }
            }
            // Late outcomes of requests started before the circuit opened change nothing.
            _ => {}
        }
    }
}

/// Weight of the newest sample in the moving average: one slow answer moves a provider well
/// behind its fast peers, a few fast ones bring it back.
const EWMA_WEIGHT: f64 = 0.3;

/// Recent times to first byte: a window for the hedge delay (p95) and a moving average for
/// the replica order, which must react to the first slow answer, not after half a window.
#[derive(Debug, Default)]
struct Ttfb {
    window: VecDeque<(Instant, Duration)>,
    ewma: Option<(Instant, f64)>,
}

/// One provider's passive health.
#[derive(Debug)]
pub struct ProviderStats {
    breaker: Mutex<Breaker>,
    ttfb: Mutex<Ttfb>,
    circuit_gauge: Option<IntGauge>,
}

/// What `/health` shows of a provider's passive health.
#[derive(Debug, Clone, Serialize)]
pub struct PassiveReport {
    /// Circuit state.
    pub circuit: CircuitState,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Moving average of recent times to first byte of reads (what orders replicas), in ms.
    pub ttfb_average_ms: Option<u64>,
    /// Median recent time to first byte of reads, in milliseconds.
    pub ttfb_p50_ms: Option<u64>,
    /// 95th percentile of the same.
    pub ttfb_p95_ms: Option<u64>,
}

impl ProviderStats {
    /// Stats exporting the circuit state to `gauge` when given.
    pub fn new(circuit_gauge: Option<IntGauge>) -> Self {
        if let Some(g) = &circuit_gauge {
            g.set(CircuitState::Closed.as_gauge());
        }
        Self { breaker: Mutex::new(Breaker::new()), ttfb: Mutex::new(Ttfb::default()), circuit_gauge }
    }

    fn with_breaker<T>(&self, f: impl FnOnce(&mut Breaker) -> T) -> Option<T> {
        let mut b = self.breaker.lock().ok()?;
        let out = f(&mut b);
        if let Some(g) = &self.circuit_gauge {
            g.set(b.state.as_gauge());
        }
        Some(out)
    }

    /// Records a request outcome: `failed` for connection errors, timeouts and 5xx, not for
    /// answers such as 404 that show the provider is working.
    pub fn record(&self, failed: bool, now: Instant) {
        self.with_breaker(|b| b.record(failed, now));
    }

    /// A successful active health check: an open circuit goes half-open at once, so the next
    /// request can close it without waiting out the open period.
    pub fn check_succeeded(&self, now: Instant) {
        self.with_breaker(|b| {
            b.tick(now);
            if b.state == CircuitState::Open {
                b.state = CircuitState::HalfOpen;
            }
        });
    }

    /// The circuit state now.
    pub fn circuit(&self, now: Instant) -> CircuitState {
        self.with_breaker(|b| {
            b.tick(now);
            b.state
        })
        .unwrap_or(CircuitState::Closed)
    }

    /// Records a lower bound: a request cancelled after `waited` (a hedge's loser) would have
    /// taken at least that long. It only ever raises the estimate: a short bound (a hedge
    /// started just before the other answer came) says nothing about a slow provider.
    pub fn observe_ttfb_at_least(&self, waited: Duration, now: Instant) {
        if self.ttfb_average(now).is_none_or(|avg| waited > avg) {
            self.observe_ttfb(waited, now);
        }
    }

    /// Records how long a read waited for its first byte.
    pub fn observe_ttfb(&self, waited: Duration, now: Instant) {
        if let Ok(mut t) = self.ttfb.lock() {
            if t.window.len() == TTFB_SAMPLES {
                t.window.pop_front();
            }
            t.window.push_back((now, waited));
            let sample = waited.as_secs_f64();
            let avg = match t.ewma {
                Some((at, avg)) if now.duration_since(at) <= TTFB_RELEVANCE => avg + EWMA_WEIGHT * (sample - avg),
                _ => sample,
            };
            t.ewma = Some((now, avg));
        }
    }

    /// The `q` quantile (0..=1) of the relevant recent samples, if there are any.
    pub fn ttfb_quantile(&self, q: f64, now: Instant) -> Option<Duration> {
        let t = self.ttfb.lock().ok()?;
        let mut recent: Vec<Duration> =
            t.window.iter().filter(|(t, _)| now.duration_since(*t) <= TTFB_RELEVANCE).map(|(_, d)| *d).collect();
        if recent.is_empty() {
            return None;
        }
        recent.sort_unstable();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "q is clamped to 0..=1, so the index is 0..len"
        )]
        let idx = ((recent.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        recent.get(idx).copied()
    }

    /// How long a read of this provider may wait for its first byte before a hedge starts.
    pub fn hedge_delay(&self, now: Instant) -> Duration {
        self.ttfb_quantile(0.95, now).map_or(HEDGE_FLOOR, |p95| p95.max(HEDGE_FLOOR))
    }

    /// The state `/health` shows.
    pub fn report(&self, now: Instant) -> PassiveReport {
        let ms = crate::model::millis_u64;
        PassiveReport {
            circuit: self.circuit(now),
            consecutive_failures: self.breaker.lock().map_or(0, |b| b.consecutive_failures),
            ttfb_average_ms: self.ttfb_average(now).map(ms),
            ttfb_p50_ms: self.ttfb_quantile(0.5, now).map(ms),
            ttfb_p95_ms: self.ttfb_quantile(0.95, now).map(ms),
        }
    }

    /// The moving average of recent times to first byte, if the last sample is recent.
    pub fn ttfb_average(&self, now: Instant) -> Option<Duration> {
        let t = self.ttfb.lock().ok()?;
        let (at, avg) = t.ewma?;
        (now.duration_since(at) <= TTFB_RELEVANCE).then(|| Duration::from_secs_f64(avg))
    }

    /// The read preference: lower is better. An open circuit sorts last, a half-open one after
    /// the closed ones, then the moving average of time to first byte; no recent sample counts
    /// as fast, so a provider nobody read lately is tried and measured again.
    pub fn read_rank(&self, now: Instant) -> (i64, Duration) {
        (self.circuit(now).as_gauge(), self.ttfb_average(now).unwrap_or(Duration::ZERO))
    }
}

/// The passive health of every provider, fixed at start.
#[derive(Debug)]
pub struct ProviderBook {
    providers: BTreeMap<ProviderId, std::sync::Arc<ProviderStats>>,
    hedge_tokens: Mutex<u32>,
}

impl Default for ProviderBook {
    fn default() -> Self {
        Self::new([])
    }
}

impl ProviderBook {
    /// A book over `providers`.
    pub fn new(providers: impl IntoIterator<Item = (ProviderId, std::sync::Arc<ProviderStats>)>) -> Self {
        Self { providers: providers.into_iter().collect(), hedge_tokens: Mutex::new(HEDGE_BURST) }
    }

    /// One provider's stats (unknown ids have none).
    pub fn get(&self, id: &ProviderId) -> Option<&std::sync::Arc<ProviderStats>> {
        self.providers.get(id)
    }

    /// Every provider.
    pub fn iter(&self) -> impl Iterator<Item = (&ProviderId, &std::sync::Arc<ProviderStats>)> {
        self.providers.iter()
    }

    /// Whether the provider's circuit is open now (unknown providers are not).
    pub fn is_open(&self, id: &ProviderId, now: Instant) -> bool {
        self.get(id).is_some_and(|s| s.circuit(now) == CircuitState::Open)
    }

    /// Credits the hedge budget for one GET.
    pub fn count_get(&self) {
        if let Ok(mut t) = self.hedge_tokens.lock() {
            *t = (*t + 1).min(HEDGE_BURST);
        }
    }

    /// Takes one hedge from the budget, if any is left.
    pub fn take_hedge(&self) -> bool {
        self.hedge_tokens.lock().is_ok_and(|mut t| {
            let ok = *t >= HEDGE_COST;
            if ok {
                *t -= HEDGE_COST;
            }
            ok
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn five_failures_in_a_row_open_the_circuit_and_a_success_in_between_resets() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        for _ in 0..4 {
            s.record(true, t0);
        }
        s.record(false, t0);
        for _ in 0..4 {
            s.record(true, t0);
        }
        assert_eq!(s.circuit(t0), CircuitState::Closed);
        s.record(true, t0);
        assert_eq!(s.circuit(t0), CircuitState::Open);
    }

    #[test]
    fn open_period_doubles_after_a_failed_probe_and_resets_after_a_success() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        for _ in 0..5 {
            s.record(true, t0);
        }
        assert_eq!(s.circuit(at(t0, 29)), CircuitState::Open);
        assert_eq!(s.circuit(at(t0, 30)), CircuitState::HalfOpen);
        s.record(true, at(t0, 30)); // the probe fails: open for 60 s now
        assert_eq!(s.circuit(at(t0, 89)), CircuitState::Open);
        assert_eq!(s.circuit(at(t0, 90)), CircuitState::HalfOpen);
        s.record(false, at(t0, 90));
        assert_eq!(s.circuit(at(t0, 90)), CircuitState::Closed);
        for _ in 0..5 {
            s.record(true, at(t0, 100));
        }
        assert_eq!(s.circuit(at(t0, 130)), CircuitState::HalfOpen, "back to 30 s after a success");
    }

    #[test]
    fn error_rate_above_half_over_twenty_requests_opens() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        for i in 0..20 {
            s.record(i % 3 != 0, t0); // 13 failures of 20, never 5 in a row
        }
        assert_eq!(s.circuit(t0), CircuitState::Open);
        let s = ProviderStats::new(None);
        for i in 0..20 {
            s.record(i % 2 == 0, t0); // exactly half: stays closed
        }
        assert_eq!(s.circuit(t0), CircuitState::Closed);
    }

    #[test]
    fn a_successful_check_half_opens_at_once() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        for _ in 0..5 {
            s.record(true, t0);
        }
        s.check_succeeded(at(t0, 1));
        assert_eq!(s.circuit(at(t0, 1)), CircuitState::HalfOpen);
        s.record(false, at(t0, 1));
        assert_eq!(s.circuit(at(t0, 1)), CircuitState::Closed);
    }

    #[test]
    fn hedge_delay_is_the_recent_p95_with_a_floor() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        assert_eq!(s.hedge_delay(t0), HEDGE_FLOOR);
        for ms in 1..=100u64 {
            s.observe_ttfb(Duration::from_millis(ms * 10), t0);
        }
        // The window keeps the last 64 samples: 370..=1000 ms; p95 of those.
        assert_eq!(s.hedge_delay(t0), Duration::from_millis(970));
        assert_eq!(s.ttfb_quantile(0.5, t0), Some(Duration::from_millis(690)));
        assert_eq!(s.hedge_delay(at(t0, 61)), HEDGE_FLOOR, "old samples no longer count");
    }

    #[test]
    fn one_slow_answer_ranks_a_fast_provider_behind_its_peers() {
        let (fast, slow) = (ProviderStats::new(None), ProviderStats::new(None));
        let t0 = Instant::now();
        for _ in 0..50 {
            fast.observe_ttfb(Duration::from_millis(4), t0);
            slow.observe_ttfb(Duration::from_millis(3), t0);
        }
        assert!(slow.read_rank(t0) < fast.read_rank(t0));
        slow.observe_ttfb(Duration::from_millis(50), t0);
        assert!(slow.read_rank(t0) > fast.read_rank(t0));
        assert_eq!(slow.read_rank(at(t0, 61)), (0, Duration::ZERO), "unread for a minute: tried again");
    }

    #[test]
    fn a_short_lower_bound_never_makes_a_slow_provider_look_fast() {
        let s = ProviderStats::new(None);
        let t0 = Instant::now();
        s.observe_ttfb(Duration::from_millis(1500), t0);
        s.observe_ttfb_at_least(Duration::from_millis(5), t0);
        assert_eq!(s.ttfb_average(t0), Some(Duration::from_millis(1500)));
        s.observe_ttfb_at_least(Duration::from_secs(3), t0);
        assert!(s.ttfb_average(t0) > Some(Duration::from_millis(1500)));
    }

    #[test]
    fn hedge_budget_is_five_percent_of_gets_after_the_burst() {
        let book = ProviderBook::new([]);
        let burst = std::iter::from_fn(|| Some(book.take_hedge())).take_while(|ok| *ok).count();
        assert_eq!(burst, 10);
        for _ in 0..19 {
            book.count_get();
        }
        assert!(!book.take_hedge());
        book.count_get();
        assert!(book.take_hedge());
    }
}
