//! Lab 08 — a plausible wrong solution, kept so that the check is proved to catch it:
//! Running is written (its arm of the `match` is right) but `methods()` lists Add only,
//! the method written first, in a service copied from a one-method example. The server routes by that list before it calls the service, so
//! every Running call is answered UNIMPLEMENTED and the code written for it never runs: a
//! service is what it says it answers.
//! `make check LAB=08 WRONG=running_not_listed` shows the failure.

use netlab::grpc::call::{Call, Describe, Service};
use netlab::grpc::status::{Code, Status};

/// `message Numbers { repeated sint64 values = 1; string label = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Numbers {
    /// sint64: ZigZag-encoded varints, so small negative numbers stay small on the wire.
    #[prost(sint64, repeated, tag = "1")]
    pub values: Vec<i64>,
    #[prost(string, tag = "2")]
    pub label: String,
}

/// `message Number { sint64 value = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Number {
    #[prost(sint64, tag = "1")]
    pub value: i64,
}

/// `message Total { sint64 sum = 1; uint32 count = 2; string label = 3; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Total {
    #[prost(sint64, tag = "1")]
    pub sum: i64,
    #[prost(uint32, tag = "2")]
    pub count: u32,
    #[prost(string, tag = "3")]
    pub label: String,
}

impl Describe for Numbers {
    fn describe(&self) -> String {
        format!("Numbers values={:?} label={:?}", self.values, self.label)
    }
}

impl Describe for Number {
    fn describe(&self) -> String {
        format!("Number value={}", self.value)
    }
}

impl Describe for Total {
    fn describe(&self) -> String {
        format!(
            "Total sum={} count={} label={:?}",
            self.sum, self.count, self.label
        )
    }
}

pub const ADD: &str = "/netlab.lab.Counter/Add";
pub const RUNNING: &str = "/netlab.lab.Counter/Running";

/// A sum past the range of sint64 is the caller's problem, said as such.
fn add(sum: i64, value: i64) -> Result<i64, Status> {
    sum.checked_add(value).ok_or_else(|| {
        Status::new(
            Code::OUT_OF_RANGE,
            format!("the sum leaves the range of sint64 at {value}"),
        )
    })
}

/// Add: the sum of the values, their count, and the label back.
pub fn add_all(numbers: Numbers) -> Result<Total, Status> {
    if numbers.values.is_empty() {
        return Err(Status::new(
            Code::INVALID_ARGUMENT,
            "values is empty: Add needs at least one number",
        ));
    }
    let mut sum = 0i64;
    for &v in &numbers.values {
        sum = add(sum, v)?;
    }
    Ok(Total {
        sum,
        count: numbers.values.len() as u32,
        label: numbers.label,
    })
}

/// The service: one method per `:path`.
pub struct Counter;

impl Service for Counter {
    fn methods(&self) -> &[&'static str] {
        // WRONG: Running is missing, so the server answers it UNIMPLEMENTED.
        &[ADD]
    }

    fn call(&self, call: &mut Call) -> Result<(), Status> {
        match call.method.as_str() {
            ADD => {
                let numbers: Numbers = call.one()?;
                call.send(&add_all(numbers)?)
            }
            // Running: each total goes out as soon as its number is in, not at the end.
            RUNNING => {
                let mut total = Total::default();
                while let Some(n) = call.recv::<Number>()? {
                    total.sum = add(total.sum, n.value)?;
                    total.count += 1;
                    call.send(&total)?;
                }
                Ok(())
            }
            other => Err(Status::new(
                Code::UNIMPLEMENTED,
                format!("no method {other}"),
            )),
        }
    }
}
