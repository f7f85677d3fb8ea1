//! Lab 08 — the file you edit: the `netlab.lab.Counter` service of `lab.proto`.
//!
//! 1. Its messages as prost structs, field for field: the tag numbers and the types of
//!    lab.proto (`sint64` is not `int64` on the wire). `Numbers` is done, as an example.
//! 2. Its two methods in `Counter::call`: `Add` (unary) and `Running` (a stream each way).
//!
//! netlab's gRPC server (src/grpc/server.rs) calls `call` once per call, with the call's
//! `:path` in `call.method`; `call.one()` / `call.recv()` read request messages and
//! `call.send()` writes a response message; the `Err` you return becomes the status.
//! Today every call is UNIMPLEMENTED. See README.md; check with `make check LAB=08`.

// The messages are unused until the methods are written.
#![allow(dead_code)]

use netlab::grpc::call::{Call, Describe, Service};
use netlab::grpc::status::{Code, Status};

/// `message Numbers { repeated sint64 values = 1; string label = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Numbers {
    #[prost(sint64, repeated, tag = "1")]
    pub values: Vec<i64>,
    #[prost(string, tag = "2")]
    pub label: String,
}

/// `message Number { sint64 value = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Number {
    // TODO: the field.
}

/// `message Total { sint64 sum = 1; uint32 count = 2; string label = 3; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Total {
    // TODO: the fields.
}

impl Describe for Numbers {
    fn describe(&self) -> String {
        format!("Numbers values={:?} label={:?}", self.values, self.label)
    }
}

impl Describe for Number {
    fn describe(&self) -> String {
        "Number".to_string()
    }
}

impl Describe for Total {
    fn describe(&self) -> String {
        "Total".to_string()
    }
}

pub const ADD: &str = "/netlab.lab.Counter/Add";
pub const RUNNING: &str = "/netlab.lab.Counter/Running";

/// The service: one method per `:path`.
pub struct Counter;

impl Service for Counter {
    fn methods(&self) -> &[&'static str] {
        &[ADD, RUNNING]
    }

    fn call(&self, call: &mut Call) -> Result<(), Status> {
        // TODO: Add and Running, as lab.proto says.
        Err(Status::new(
            Code::UNIMPLEMENTED,
            format!("{} is not written yet", call.method),
        ))
    }
}
