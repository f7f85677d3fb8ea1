//! The notes store: what both the REST and the SOAP interface read and change. A note is a
//! text with an id the store assigns.
//!
//! The interfaces reach the notes through the [`Notes`] trait, so they run the same over this
//! process's [`Store`] (the monolith, the notes service) and over a notes service somewhere
//! else (the gateway with `--upstream grpc://…`, through `grpc::notes::Remote`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Notes by id, shared between threads.
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    notes: BTreeMap<u64, String>,
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A handler that panicked while holding the lock left consistent data (every change
        // is one insert or remove), so carry on with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn create(&self, text: &str) -> u64 {
        let mut s = self.lock();
        s.next += 1;
        let id = s.next;
        s.notes.insert(id, text.to_string());
        id
    }

    pub fn get(&self, id: u64) -> Option<String> {
        self.lock().notes.get(&id).cloned()
    }

    pub fn list(&self) -> Vec<(u64, String)> {
        self.lock()
            .notes
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// Replaces the text; false if there is no such note.
    pub fn update(&self, id: u64, text: &str) -> bool {
        match self.lock().notes.get_mut(&id) {
            Some(t) => {
                *t = text.to_string();
                true
            }
            None => false,
        }
    }

    pub fn delete(&self, id: u64) -> bool {
        self.lock().notes.remove(&id).is_some()
    }
}

/// The far side of the notes did not answer (a gateway's upstream is down): the interfaces
/// answer 502 or a SOAP Server fault with this reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable(pub String);

/// What the REST and SOAP interfaces need from wherever the notes live.
pub trait Notes: Send + Sync + 'static {
    fn create(&self, text: &str) -> Result<u64, Unreachable>;
    fn get(&self, id: u64) -> Result<Option<String>, Unreachable>;
    fn list(&self) -> Result<Vec<(u64, String)>, Unreachable>;
    /// Replaces the text; `false` if there is no such note.
    fn update(&self, id: u64, text: &str) -> Result<bool, Unreachable>;
    /// `false` if there is no such note.
    fn delete(&self, id: u64) -> Result<bool, Unreachable>;
}

/// This process's store never fails to answer.
impl Notes for Store {
    fn create(&self, text: &str) -> Result<u64, Unreachable> {
        Ok(Store::create(self, text))
    }
    fn get(&self, id: u64) -> Result<Option<String>, Unreachable> {
        Ok(Store::get(self, id))
    }
    fn list(&self) -> Result<Vec<(u64, String)>, Unreachable> {
        Ok(Store::list(self))
    }
    fn update(&self, id: u64, text: &str) -> Result<bool, Unreachable> {
        Ok(Store::update(self, id, text))
    }
    fn delete(&self, id: u64) -> Result<bool, Unreachable> {
        Ok(Store::delete(self, id))
    }
}
