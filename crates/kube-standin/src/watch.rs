//! WATCH streams as the watch cache serves them: replay after a resourceVersion, synthetic ADDED
//! events for "0"/unset, selector transitions (ADDED/DELETED), bookmarks, timeouts, 410 ERROR events.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::gotypes::{self, Ty};
use super::handlers::{Query, encode_object, matches, res_key, selectors, wait_for_rv};
use super::resources::ResourceDef;
use super::selector::{FieldSelector, LabelSelector};
use super::server::{self, Shared};
use super::status::{ApiError, BadValue, FieldError};
use super::store::{EvType, HistEvent, set_rv};

struct Filter {
    def: Arc<ResourceDef>,
    ns: Option<String>,
    ls: LabelSelector,
    fs: FieldSelector,
    meta_only: bool,
}

impl Filter {
    fn passes(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.ns {
            let ons = obj
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if ons != ns {
                return false;
            }
        }
        matches(obj, &self.ls, &self.fs)
    }

    fn line(&self, typ: &str, obj: &Value) -> Bytes {
        let mut out = String::from("{\"type\":");
        gotypes::write_str(&mut out, typ);
        out.push_str(",\"object\":");
        out.push_str(&encode_object(&self.def, obj, self.meta_only));
        out.push_str("}\n");
        Bytes::from(out)
    }

    /// The event a watcher with this filter sees for a stored change (cacheWatcher.convertToWatchEvent).
    fn convert(&self, ev: &HistEvent) -> Option<Bytes> {
        if ev.res != res_key(&self.def) {
            return None;
        }
        let cur_passes =
            ev.typ != EvType::Deleted && ev.obj.as_deref().is_some_and(|o| self.passes(o));
        let old_passes = ev.prev.as_deref().is_some_and(|o| self.passes(o));
        match (old_passes, cur_passes) {
            (false, true) => Some(self.line("ADDED", ev.obj.as_deref()?)),
            (true, true) => Some(self.line("MODIFIED", ev.obj.as_deref()?)),
            (true, false) => {
                let mut old = ev.prev.as_deref()?.clone();
                set_rv(&mut old, ev.rv);
                Some(self.line("DELETED", &old))
            }
            (false, false) => None,
        }
    }

    fn bookmark(&self, rv: u64) -> Bytes {
        let mut obj = if self.def.is_custom() {
            json!({})
        } else {
            self.def.zero_object()
        };
        obj["apiVersion"] = json!(self.def.api_version());
        obj["kind"] = json!(self.def.kind);
        obj["metadata"] = if self.def.is_custom() {
            json!({"resourceVersion": rv.to_string()})
        } else {
            json!({"resourceVersion": rv.to_string(), "creationTimestamp": null})
        };
        if self.meta_only {
            obj = json!({"metadata": obj["metadata"].clone()});
        }
        self.line("BOOKMARK", &obj)
    }
}

fn error_line(code: u16, reason: &str, message: &str) -> Bytes {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    let mut out = String::from("{\"type\":\"ERROR\",\"object\":");
    out.push_str(&gotypes::encode(&status, &Ty::Struct(&gotypes::STATUS)));
    out.push_str("}\n");
    Bytes::from(out)
}

fn validate_watch_options(q: &Query) -> Result<(), ApiError> {
    let mut errs = Vec::new();
    let rv_match = q.get("resourceVersionMatch").cloned().unwrap_or_default();
    if q.contains_key("sendInitialEvents") {
        if rv_match != "NotOlderThan" {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        errs.push(FieldError::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
        ));
    }
    if !rv_match.is_empty() {
        if !q.contains_key("sendInitialEvents") {
            errs.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if rv_match != "NotOlderThan" {
            errs.push(FieldError::not_supported(
                "resourceVersionMatch",
                BadValue::Str(rv_match.clone()),
                &["NotOlderThan".into()],
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", &errs))
    }
}

/// Starts a watch; returns the receiving end of the line stream.
pub(crate) async fn watch(
    sh: Arc<Shared>,
    def: Arc<ResourceDef>,
    ns: Option<String>,
    q: Query,
    meta_only: bool,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    validate_watch_options(&q)?;
    let (ls, fs) = selectors(&def, &q)?;
    let timeout = match q.get("timeoutSeconds") {
        Some(t) if !t.is_empty() && t != "0" => {
            let secs: u64 = t
                .parse()
                .map_err(|_| ApiError::bad_request(&format!("invalid timeoutSeconds: {t}")))?;
            Duration::from_secs(secs)
        }
        _ => Duration::from_secs(1800),
    };
    let bookmarks = q
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true" || b == "1");
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let filter = Filter {
        ns: if def.namespaced { ns } else { None },
        def,
        ls,
        fs,
        meta_only,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(4096);

    let (initial, from): (Vec<Bytes>, u64) = if rv_param.is_empty() || rv_param == "0" {
        let st = sh.store();
        let items = st.list(&res_key(&filter.def), filter.ns.as_deref());
        let lines = items
            .iter()
            .filter(|(_, o)| filter.passes(o))
            .map(|(_, o)| filter.line("ADDED", o))
            .collect();
        (lines, st.rev)
    } else {
        let rv: u64 = rv_param
            .parse()
            .map_err(|_| ApiError::bad_request(&format!("invalid resource version: {rv_param}")))?;
        wait_for_rv(&sh, rv).await?;
        let st = sh.store();
        if rv < st.history_start {
            let line = error_line(
                410,
                "Expired",
                &format!("too old resource version: {rv} ({})", st.history_start),
            );
            drop(st);
            let _ = tx.try_send(line);
            return Ok(rx);
        }
        (Vec::new(), rv)
    };

    let reset = server::lock(&sh.watch_reset).clone();
    tokio::spawn(async move {
        let start_rv = from;
        for l in initial {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        let started = tokio::time::Instant::now();
        let deadline = started + timeout;
        let pre_timeout = deadline
            .checked_sub(Duration::from_secs(2))
            .filter(|t| *t > started);
        let mut next_bookmark = started + sh.bookmark_interval;
        if let Some(p) = pre_timeout
            && p < next_bookmark
        {
            next_bookmark = p;
        }
        let mut rev_rx = sh.rev_tx.subscribe();
        let mut last = from;
        loop {
            // Deliver everything stored after `last` (with a lag: what was stored `watch_lag` ago).
            let target = sh.store().rev;
            if !sh.watch_lag.is_zero() && target > last {
                tokio::time::sleep(sh.watch_lag).await;
            }
            let (evs, rev) = {
                let st = sh.store();
                (st.events_after(last), st.rev)
            };
            match evs {
                Ok(evs) => {
                    for ev in evs.iter().filter(|ev| ev.rv <= target) {
                        if let Some(line) = filter.convert(ev)
                            && tx.send(line).await.is_err()
                        {
                            return;
                        }
                        last = ev.rv;
                    }
                    last = last.max(target);
                    if rev > target {
                        // Written while this batch lagged: its own lag starts now.
                        continue;
                    }
                }
                Err(oldest) => {
                    let _ = tx
                        .send(error_line(
                            410,
                            "Expired",
                            &format!("too old resource version: {last} ({oldest})"),
                        ))
                        .await;
                    return;
                }
            }
            tokio::select! {
                changed = rev_rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(next_bookmark), if bookmarks && next_bookmark < deadline => {
                    let rev = sh.store().rev;
                    if rev > start_rv && flush(&sh, &filter, &tx, &mut last).await && tx.send(filter.bookmark(last.max(rev))).await.is_err() {
                        return;
                    }
                    next_bookmark += sh.bookmark_interval;
                    if let Some(p) = pre_timeout
                        && next_bookmark > p
                        && tokio::time::Instant::now() < p
                    {
                        next_bookmark = p;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let rev = sh.store().rev;
                    if bookmarks && rev > start_rv && flush(&sh, &filter, &tx, &mut last).await {
                        let _ = tx.send(filter.bookmark(last.max(rev))).await;
                    }
                    return;
                }
                _ = tx.closed() => return,
                _ = sh.shutdown.cancelled() => return,
                _ = reset.cancelled() => return,
            }
        }
    });
    Ok(rx)
}

/// Delivers pending events before a bookmark; false if the stream is gone or expired.
async fn flush(sh: &Shared, filter: &Filter, tx: &mpsc::Sender<Bytes>, last: &mut u64) -> bool {
    let (evs, rev) = {
        let st = sh.store();
        (st.events_after(*last), st.rev)
    };
    match evs {
        Ok(evs) => {
            for ev in &evs {
                if let Some(line) = filter.convert(ev)
                    && tx.send(line).await.is_err()
                {
                    return false;
                }
                *last = ev.rv;
            }
            *last = (*last).max(rev);
            true
        }
        Err(_) => false,
    }
}
