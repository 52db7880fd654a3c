//! Stops calling a failing store for a while, so callers fail fast instead of piling up.
//!
//! [`CircuitBreaker`] is the classic three-state breaker:
//!
//! - **Closed** (normal): calls go through. Failures are counted; after
//!   [`consecutive_failures`](CircuitBreakerLayer::consecutive_failures) failures in a row
//!   (default 5), or, if configured, a [`failure_ratio`](CircuitBreakerLayer::failure_ratio) of
//!   the last *window* calls, the breaker **opens**.
//! - **Open**: calls fail at once, without reaching the store, with a temporary
//!   [`ErrorKind::Connection`] error naming the breaker ("circuit breaker 'RedisStore' is
//!   open..."), so a [`Retry`](crate::retry) or [`Fallback`](crate::fallback) layered outside
//!   treats it like an unreachable backend. After the
//!   [`cool_down`](CircuitBreakerLayer::cool_down) (default 30 s) it turns half-open.
//! - **Half-open**: up to [`trial_calls`](CircuitBreakerLayer::trial_calls) calls (default 1)
//!   go through as trials; the others fail fast. When that many trials have succeeded the
//!   breaker **closes**; the first failed trial **opens** it again for another cool-down.
//!
//! Only errors the policy counts are failures: by default the temporary ones (connection,
//! time-out). A permanent error (invalid key, a value too large) proves the store answered, so
//! it counts as a success. [`failure_if`](CircuitBreakerLayer::failure_if) changes that.
//! A trial call that is cancelled (its future dropped) frees its trial slot without counting
//! either way, so a cancelled trial cannot leave the breaker stuck half-open. `close()` always
//! goes through.
//!
//! Time is tokio's clock ([`tokio::time::Instant`]), so tests can pause and advance it.
//!
//! **Compared with py-key-value**: py-key-value 0.4.6 has no circuit breaker; this wrapper is
//! new here.
//!
//! ```
//! use key_value_core::prelude::*;
//! use key_value_memory::MemoryStore;
//! use key_value_wrappers::{LayerExt, circuit_breaker::{CircuitBreakerLayer, CircuitState}};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> key_value_core::Result<()> {
//! let store = MemoryStore::new().layer(
//!     CircuitBreakerLayer::new()
//!         .name("sessions")
//!         .consecutive_failures(3)
//!         .cool_down(Duration::from_secs(10)),
//! );
//! store.put("k", object!({"n": 1})).await?;
//! assert_eq!(store.state(), CircuitState::Closed);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use key_value_core::{Error, ErrorKind, KeyValue, Result};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::Layer;
use crate::guard::{Call, Guard, guarded_key_value};

type Predicate = Arc<dyn Fn(&Error) -> bool + Send + Sync>;

/// The breaker's settings; a [`Layer`] that wraps a store into a [`CircuitBreaker`].
#[derive(Clone)]
pub struct CircuitBreakerLayer {
    name: Option<String>,
    consecutive_failures: u32,
    failure_ratio: Option<(f64, usize)>,
    cool_down: Duration,
    trial_calls: u32,
    failure_if: Option<Predicate>,
}

impl fmt::Debug for CircuitBreakerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("name", &self.name)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("failure_ratio", &self.failure_ratio)
            .field("cool_down", &self.cool_down)
            .field("trial_calls", &self.trial_calls)
            .field("custom_failure_if", &self.failure_if.is_some())
            .finish()
    }
}

impl Default for CircuitBreakerLayer {
    fn default() -> Self {
        CircuitBreakerLayer {
            name: None,
            consecutive_failures: 5,
            failure_ratio: None,
            cool_down: Duration::from_secs(30),
            trial_calls: 1,
            failure_if: None,
        }
    }
}

impl CircuitBreakerLayer {
    /// Opens after 5 consecutive temporary errors, cools down for 30 s, then lets 1 trial call
    /// through.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name in the breaker's errors (default: the wrapped store's name, e.g. `RedisStore`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Opens after this many failures in a row (at least 1).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n.max(1);
        self
    }

    /// Also opens when, over the last `window` calls (at least 1), the share of failures is at
    /// least `ratio` (clamped to `0.0..=1.0`). The window must be full before it can trip, so a
    /// single early failure does not open the breaker.
    pub fn failure_ratio(mut self, ratio: f64, window: usize) -> Self {
        let ratio = if ratio.is_nan() {
            1.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.failure_ratio = Some((ratio, window.max(1)));
        self
    }

    /// How long the breaker stays open before letting trial calls through.
    pub fn cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// How many trial calls the half-open breaker lets through, and how many must succeed to
    /// close it (at least 1).
    pub fn trial_calls(mut self, n: u32) -> Self {
        self.trial_calls = n.max(1);
        self
    }

    /// Which errors count as failures, instead of "the temporary ones". Errors that do not
    /// count are successes: the store answered.
    pub fn failure_if(
        mut self,
        predicate: impl Fn(&Error) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.failure_if = Some(Arc::new(predicate));
        self
    }
}

impl<S: KeyValue> Layer<S> for CircuitBreakerLayer {
    type Store = CircuitBreaker<S>;

    fn layer(self, inner: S) -> CircuitBreaker<S> {
        CircuitBreaker::new(inner, self)
    }
}

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail fast until the cool-down ends.
    Open,
    /// A limited number of trial calls go through.
    HalfOpen,
}

#[derive(Debug)]
enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, succeeded: u32 },
}

/// What a recorded outcome does to the breaker.
enum Next {
    Stay,
    Open,
    Close,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    /// Bumped on every state change, so a call admitted under an older state does not count.
    generation: u64,
    consecutive: u32,
    /// The outcomes of the last calls (true = failure), for the ratio.
    window: VecDeque<bool>,
    window_failures: usize,
}

/// A store behind a circuit breaker; see the [module docs](self).
pub struct CircuitBreaker<S> {
    inner: S,
    name: String,
    config: CircuitBreakerLayer,
    state: Mutex<State>,
}

impl<S: fmt::Debug> fmt::Debug for CircuitBreaker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("name", &self.name)
            .field("state", &self.state.lock().mode)
            .finish()
    }
}

/// Leave to make one call; if dropped before [`CircuitBreaker::record`] (the call was
/// cancelled), a trial slot is given back.
struct Permit<'a> {
    state: &'a Mutex<State>,
    trial: bool,
    generation: u64,
    recorded: bool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.recorded || !self.trial {
            return;
        }
        let mut st = self.state.lock();
        if st.generation == self.generation
            && let Mode::HalfOpen { in_flight, .. } = &mut st.mode
        {
            *in_flight = in_flight.saturating_sub(1);
        }
    }
}

impl<S: KeyValue> CircuitBreaker<S> {
    /// Wraps `inner` with the breaker `config`.
    pub fn new(inner: S, config: CircuitBreakerLayer) -> Self {
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| inner.info().name().to_string());
        CircuitBreaker {
            inner,
            name,
            config,
            state: Mutex::new(State {
                mode: Mode::Closed,
                generation: 0,
                consecutive: 0,
                window: VecDeque::new(),
                window_failures: 0,
            }),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The breaker's name, as its errors show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the breaker stands now. An open breaker whose cool-down has ended reports
    /// `HalfOpen`: the next call will be a trial.
    pub fn state(&self) -> CircuitState {
        let st = self.state.lock();
        match st.mode {
            Mode::Closed => CircuitState::Closed,
            Mode::Open { until } if Instant::now() < until => CircuitState::Open,
            Mode::Open { .. } | Mode::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Closes the breaker and forgets past failures (an operator's override).
    pub fn reset(&self) {
        let mut st = self.state.lock();
        st.close();
    }

    fn admit(&self, operation: &'static str) -> Result<Permit<'_>> {
        let mut st = self.state.lock();
        let now = Instant::now();
        if let Mode::Open { until } = st.mode {
            if now < until {
                return Err(self.open_error(operation, until - now));
            }
            st.mode = Mode::HalfOpen {
                in_flight: 0,
                succeeded: 0,
            };
            st.generation += 1;
        }
        let generation = st.generation;
        let trial = match &mut st.mode {
            Mode::Closed => false,
            Mode::HalfOpen {
                in_flight,
                succeeded,
            } => {
                if *in_flight + *succeeded >= self.config.trial_calls {
                    return Err(Error::new(
                        ErrorKind::Connection,
                        format!(
                            "circuit breaker '{}' is half-open and its trial calls are in flight; failing fast",
                            self.name
                        ),
                    )
                    .with_operation(operation));
                }
                *in_flight += 1;
                true
            }
            Mode::Open { .. } => false,
        };
        Ok(Permit {
            state: &self.state,
            trial,
            generation,
            recorded: false,
        })
    }

    fn open_error(&self, operation: &'static str, left: Duration) -> Error {
        Error::new(
            ErrorKind::Connection,
            format!(
                "circuit breaker '{}' is open after repeated failures; failing fast for another {} ms",
                self.name,
                left.as_millis()
            ),
        )
        .with_operation(operation)
    }

    fn is_failure(&self, error: &Error) -> bool {
        match &self.config.failure_if {
            Some(p) => p(error),
            None => error.is_temporary(),
        }
    }

    fn record(&self, mut permit: Permit<'_>, failed: bool) {
        permit.recorded = true;
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if st.generation != permit.generation {
            // Admitted under an older state: its outcome says nothing about the current one.
            return;
        }
        let next = match &mut st.mode {
            Mode::Closed => {
                st.consecutive = if failed { st.consecutive + 1 } else { 0 };
                let mut trip = st.consecutive >= self.config.consecutive_failures;
                if let Some((ratio, window)) = self.config.failure_ratio {
                    st.window.push_back(failed);
                    st.window_failures += usize::from(failed);
                    while st.window.len() > window {
                        if st.window.pop_front() == Some(true) {
                            st.window_failures -= 1;
                        }
                    }
                    if st.window.len() == window && failed {
                        trip |= st.window_failures as f64 >= ratio * window as f64;
                    }
                }
                if trip { Next::Open } else { Next::Stay }
            }
            Mode::HalfOpen {
                in_flight,
                succeeded,
            } if permit.trial => {
                if failed {
                    Next::Open
                } else {
                    *in_flight = in_flight.saturating_sub(1);
                    *succeeded += 1;
                    if *succeeded >= self.config.trial_calls {
                        Next::Close
                    } else {
                        Next::Stay
                    }
                }
            }
            Mode::HalfOpen { .. } | Mode::Open { .. } => Next::Stay,
        };
        match next {
            Next::Open => st.open(self.config.cool_down),
            Next::Close => st.close(),
            Next::Stay => {}
        }
    }
}

impl State {
    fn open(&mut self, cool_down: Duration) {
        self.mode = Mode::Open {
            until: Instant::now() + cool_down,
        };
        self.generation += 1;
    }

    fn close(&mut self) {
        self.mode = Mode::Closed;
        self.generation += 1;
        self.consecutive = 0;
        self.window.clear();
        self.window_failures = 0;
    }
}

impl<S: KeyValue> Guard for CircuitBreaker<S> {
    type Inner = S;

    fn guarded(&self) -> &S {
        &self.inner
    }

    async fn guard<T: Send>(
        &self,
        call: Call,
        run: impl Future<Output = Result<T>> + Send,
    ) -> Result<T> {
        let permit = self.admit(call.operation)?;
        let result = run.await;
        let failed = result.as_ref().err().is_some_and(|e| self.is_failure(e));
        self.record(permit, failed);
        result
    }
}

guarded_key_value!(CircuitBreaker);
