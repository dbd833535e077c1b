//! Fault injection: random throttling/5xx rates and latency, plus deterministic one-shot injections.
//!
//! Order for each IAM request whose action matches: latency, then the first pending injection that matches
//! (consumed), then the random rates.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Standing fault settings. Over HTTP: `{"throttleRate":0.1,"serverErrorRate":0,"latencyMs":0,"actions":null}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// Probability (0–1) that a request fails with `400 Throttling`.
    #[serde(default)]
    pub throttle_rate: f64,
    /// Probability (0–1) that a request fails with `503 ServiceUnavailable`.
    #[serde(default)]
    pub server_error_rate: f64,
    /// Added before every affected request.
    #[serde(default, rename = "latencyMs", with = "millis")]
    pub latency: Duration,
    /// Only these IAM actions are affected; `None` means all.
    #[serde(default)]
    pub actions: Option<Vec<String>>,
}

impl FaultConfig {
    /// Rates must be within 0–1 (NaN is rejected).
    pub fn validate(&self) -> Result<(), String> {
        for (name, rate) in [
            ("throttleRate", self.throttle_rate),
            ("serverErrorRate", self.server_error_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        Ok(())
    }

    fn applies_to(&self, action: &str) -> bool {
        self.actions
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == action))
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// What an injected fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `400 Throttling` `Rate exceeded`.
    Throttle,
    /// A 5xx: 503 is `ServiceUnavailable`, any other `InternalFailure`.
    ServerError(u16),
    /// A network that holds the request and delivers it this much later, after the client gave
    /// up on it: the client never gets an answer, and IAM carries the request out anyway.
    DeliverLate(Duration),
}

/// Fails the next `count` requests for `action` (or for any action when `None`).
/// Over HTTP: `{"action":"CreateUser","kind":"throttle","count":2}` or `{"kind":"serverError","status":500}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedFault {
    pub action: Option<String>,
    pub kind: FaultKind,
    pub count: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InjectedWire {
    #[serde(default)]
    action: Option<String>,
    kind: KindWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// `deliverLate`: how long the request is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default = "one")]
    count: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum KindWire {
    Throttle,
    ServerError,
    DeliverLate,
}

fn one() -> u32 {
    1
}

impl Serialize for InjectedFault {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (kind, status, delay_ms) = match self.kind {
            FaultKind::Throttle => (KindWire::Throttle, None, None),
            FaultKind::ServerError(code) => (KindWire::ServerError, Some(code), None),
            FaultKind::DeliverLate(delay) => (
                KindWire::DeliverLate,
                None,
                Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            ),
        };
        InjectedWire {
            action: self.action.clone(),
            kind,
            status,
            delay_ms,
            count: self.count,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for InjectedFault {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = InjectedWire::deserialize(d)?;
        let kind = match w.kind {
            KindWire::Throttle => FaultKind::Throttle,
            KindWire::ServerError => {
                let code = w.status.unwrap_or(503);
                if !(500..=599).contains(&code) {
                    return Err(serde::de::Error::custom("status must be a 5xx code"));
                }
                FaultKind::ServerError(code)
            }
            KindWire::DeliverLate => {
                let ms = w
                    .delay_ms
                    .ok_or_else(|| serde::de::Error::custom("deliverLate needs delayMs"))?;
                FaultKind::DeliverLate(Duration::from_millis(ms.min(3_600_000)))
            }
        };
        Ok(Self {
            action: w.action,
            kind,
            count: w.count,
        })
    }
}

impl FaultKind {
    /// The error this fault answers with (`None`: no answer at all).
    pub fn to_error(self) -> Option<ApiError> {
        match self {
            FaultKind::Throttle => Some(ApiError::throttling()),
            FaultKind::ServerError(code) => Some(ApiError::server_error(code)),
            FaultKind::DeliverLate(_) => None,
        }
    }
}

/// The live fault settings and the queue of pending injections.
#[derive(Debug, Default)]
pub struct Faults {
    inner: Mutex<FaultState>,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultState {
    #[serde(flatten)]
    pub config: FaultConfig,
    pub pending: Vec<InjectedFault>,
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub delay: Duration,
    pub error: Option<ApiError>,
    /// Carry the request out this much later and never answer it.
    pub deliver_late: Option<Duration>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Self {
            inner: Mutex::new(FaultState {
                config,
                pending: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> FaultState {
        self.lock().clone()
    }

    /// Replaces the standing settings (pending injections stay). Rejects rates outside 0–1.
    pub fn set(&self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        self.lock().config = config;
        Ok(())
    }

    pub fn inject(&self, fault: InjectedFault) {
        if fault.count > 0 {
            self.lock().pending.push(fault);
        }
    }

    pub fn clear_pending(&self) {
        self.lock().pending.clear();
    }

    /// Decides the fate of one request for `action`. `roll` draws a uniform number in [0, 1).
    pub fn decide(&self, action: &str, mut roll: impl FnMut() -> f64) -> Decision {
        let mut st = self.lock();
        let applies = st.config.applies_to(action);
        let delay = if applies {
            st.config.latency
        } else {
            Duration::ZERO
        };
        if let Some(i) = st
            .pending
            .iter()
            .position(|f| f.action.as_deref().is_none_or(|a| a == action))
        {
            let kind = st.pending[i].kind;
            st.pending[i].count = st.pending[i].count.saturating_sub(1);
            if st.pending[i].count == 0 {
                st.pending.remove(i);
            }
            let deliver_late = match kind {
                FaultKind::DeliverLate(after) => Some(after),
                _ => None,
            };
            return Decision {
                delay,
                error: kind.to_error(),
                deliver_late,
            };
        }
        let error = if !applies {
            None
        } else if st.config.throttle_rate > 0.0 && roll() < st.config.throttle_rate {
            Some(ApiError::throttling())
        } else if st.config.server_error_rate > 0.0 && roll() < st.config.server_error_rate {
            Some(ApiError::server_error(503))
        } else {
            None
        };
        Decision {
            delay,
            error,
            deliver_late: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_are_deterministic_and_consumed() {
        let f = Faults::default();
        f.inject(InjectedFault {
            action: Some("CreateUser".into()),
            kind: FaultKind::Throttle,
            count: 2,
        });
        assert_eq!(f.decide("GetUser", || 0.5).error, None);
        assert_eq!(
            f.decide("CreateUser", || 0.5).error.unwrap().code,
            "Throttling"
        );
        assert_eq!(
            f.decide("CreateUser", || 0.5).error.unwrap().code,
            "Throttling"
        );
        assert_eq!(f.decide("CreateUser", || 0.5).error, None);
        f.inject(InjectedFault {
            action: None,
            kind: FaultKind::ServerError(500),
            count: 1,
        });
        let e = f.decide("GetUser", || 0.5).error.unwrap();
        assert_eq!((e.status, e.code.as_ref()), (500, "InternalFailure"));
    }

    #[test]
    fn rates_and_action_filter() {
        let f = Faults::new(FaultConfig {
            throttle_rate: 1.0,
            actions: Some(vec!["ListUsers".into()]),
            latency: Duration::from_millis(5),
            ..Default::default()
        });
        let d = f.decide("ListUsers", || 0.0);
        assert_eq!(d.error.unwrap().code, "Throttling");
        assert_eq!(d.delay, Duration::from_millis(5));
        let d = f.decide("GetUser", || 0.0);
        assert_eq!(
            d,
            Decision {
                delay: Duration::ZERO,
                error: None,
                deliver_late: None,
            }
        );
        assert!(
            f.set(FaultConfig {
                throttle_rate: 1.5,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            f.set(FaultConfig {
                server_error_rate: f64::NAN,
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn wire_formats() {
        let c: FaultConfig =
            serde_json::from_str(r#"{"throttleRate":0.5,"latencyMs":20,"actions":["GetUser"]}"#)
                .unwrap();
        assert_eq!(c.latency, Duration::from_millis(20));
        assert_eq!(c.throttle_rate, 0.5);
        let i: InjectedFault =
            serde_json::from_str(r#"{"kind":"serverError","status":500,"count":3}"#).unwrap();
        assert_eq!(i.kind, FaultKind::ServerError(500));
        let i: InjectedFault =
            serde_json::from_str(r#"{"action":"CreateUser","kind":"throttle"}"#).unwrap();
        assert_eq!(i.count, 1);
        assert!(
            serde_json::from_str::<InjectedFault>(r#"{"kind":"serverError","status":404}"#)
                .is_err()
        );
        let back = serde_json::to_value(&i).unwrap();
        assert_eq!(back["kind"], "throttle");
    }
}
