//! Running a handler a student wrote so that its panic becomes a value. A server answers
//! that request with its protocol's error (HTTP 500, a ZeroMQ `ERR` reply) and serves on;
//! the panic is reported as one line — in the trace when the layer is on, else one
//! `error: …` line on stderr — instead of Rust's default "thread '…' panicked at …" text
//! and its backtrace hint.
//!
//! How: a panic hook, installed once, stays silent for panics inside [`call`] and keeps
//! their message and place for the caller; every other panic still gets the default hook.

use crate::trace::{self, Layer};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// A panic caught in a handler: what it said and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Panic {
    pub message: String,
    pub location: String,
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked at {}: {}", self.location, self.message)
    }
}

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<Panic>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(Cell::get) {
                return default(info);
            }
            let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = info.payload().downcast_ref::<String>() {
                s.clone()
            } else {
                "(a panic without a message)".to_string()
            };
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "an unknown place".into());
            CAUGHT.with(|c| *c.borrow_mut() = Some(Panic { message, location }));
        }));
    });
}

/// Runs `f`; a panic inside it comes back as `Err(Panic)`, printed nowhere.
pub fn call<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    install_hook();
    let was_inside = INSIDE.with(|i| i.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    INSIDE.with(|i| i.set(was_inside));
    result.map_err(|_| {
        CAUGHT.with(|c| c.borrow_mut().take()).unwrap_or(Panic {
            message: "(no message)".into(),
            location: "an unknown place".into(),
        })
    })
}

/// Reports a caught panic as one line: a trace event of `layer` when it is on, else one
/// `error:` line on stderr. `what` names the handler's work and `then` what happens next.
pub fn report(layer: Layer, what: &str, p: &Panic, then: &str) {
    say(layer, format!("{what}: the handler {p}; {then}"));
}

/// One line about a caught panic: a trace event of `layer` when it is on, else an `error:`
/// line on stderr.
pub fn say(layer: Layer, line: String) {
    if trace::is_on(layer) {
        trace::event(layer, || line.clone());
    } else {
        eprintln!("error: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_value_with_its_message_and_place() {
        let p = call(|| -> u8 { panic!("boom {}", 7) }).unwrap_err();
        assert_eq!(p.message, "boom 7");
        assert!(p.location.starts_with("src/catch.rs:"), "{}", p.location);
        assert_eq!(call(|| 5), Ok(5));
        let p = call(|| -> u8 { panic!("static") }).unwrap_err();
        assert_eq!(p.message, "static");
    }

    #[test]
    fn nested_calls_restore_the_outer_state() {
        let outer = call(|| {
            let inner = call(|| -> u8 { panic!("inner") });
            assert!(inner.is_err());
            panic!("outer")
        });
        assert_eq!(outer.map(|_: ()| ()).unwrap_err().message, "outer");
    }
}
