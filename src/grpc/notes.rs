//! The notes over gRPC (`service Notes` in proto/netlab.proto): the same store the REST and
//! SOAP interfaces use, offered as a gRPC service ([`NotesService`]), and reached from
//! elsewhere through it ([`Remote`], a `Notes` whose every operation is a gRPC call — the
//! gateway's `--upstream grpc://…`). Not found is NOT_FOUND; a far side that does not answer
//! is UNAVAILABLE, which the interfaces turn into 502.

use super::call::{Call, Describe, Service};
use super::client::{Channel, Options};
use super::status::{Code, Status};
use crate::http::services::notes::{Notes, Store, Unreachable};
use crate::http::uri::Url;
use crate::http2::client::Options as H2Options;
use std::sync::Mutex;
use std::time::Duration;

/// `message NoteText { string text = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct NoteText {
    #[prost(string, tag = "1")]
    pub text: String,
}

/// `message NoteId { uint64 id = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct NoteId {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// `message StoredNote { uint64 id = 1; string text = 2; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredNote {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub text: String,
}

/// `message NoteList { repeated StoredNote notes = 1; }`
#[derive(Clone, PartialEq, prost::Message)]
pub struct NoteList {
    #[prost(message, repeated, tag = "1")]
    pub notes: Vec<StoredNote>,
}

/// `message Empty {}`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Empty {}

impl Describe for NoteText {
    fn describe(&self) -> String {
        format!(
            "NoteText text={}",
            crate::trace::quoted(self.text.as_bytes(), 60)
        )
    }
}
impl Describe for NoteId {
    fn describe(&self) -> String {
        format!("NoteId id={}", self.id)
    }
}
impl Describe for StoredNote {
    fn describe(&self) -> String {
        format!(
            "StoredNote id={} text={}",
            self.id,
            crate::trace::quoted(self.text.as_bytes(), 60)
        )
    }
}
impl Describe for NoteList {
    fn describe(&self) -> String {
        format!("NoteList of {} notes", self.notes.len())
    }
}
impl Describe for Empty {
    fn describe(&self) -> String {
        "Empty".into()
    }
}

pub const CREATE: &str = "/netlab.Notes/Create";
pub const GET: &str = "/netlab.Notes/Get";
pub const LIST: &str = "/netlab.Notes/List";
pub const UPDATE: &str = "/netlab.Notes/Update";
pub const DELETE: &str = "/netlab.Notes/Delete";

/// The Notes service over a store.
pub struct NotesService {
    pub store: Store,
}

fn not_found(id: u64) -> Status {
    Status::new(Code::NOT_FOUND, format!("no note with id {id}"))
}

impl Service for NotesService {
    fn methods(&self) -> &[&'static str] {
        &[CREATE, GET, LIST, UPDATE, DELETE]
    }

    fn call(&self, call: &mut Call) -> Result<(), Status> {
        let s = &self.store;
        match call.method.as_str() {
            CREATE => {
                let NoteText { text } = call.one()?;
                let id = s.create(&text);
                call.send(&StoredNote { id, text })
            }
            GET => {
                let NoteId { id } = call.one()?;
                let text = s.get(id).ok_or_else(|| not_found(id))?;
                call.send(&StoredNote { id, text })
            }
            LIST => {
                let Empty {} = call.one()?;
                let notes = s
                    .list()
                    .into_iter()
                    .map(|(id, text)| StoredNote { id, text })
                    .collect();
                call.send(&NoteList { notes })
            }
            UPDATE => {
                let StoredNote { id, text } = call.one()?;
                if !s.update(id, &text) {
                    return Err(not_found(id));
                }
                call.send(&StoredNote { id, text })
            }
            DELETE => {
                let NoteId { id } = call.one()?;
                if !s.delete(id) {
                    return Err(not_found(id));
                }
                call.send(&Empty {})
            }
            other => Err(super::exchange::unimplemented(other, self.methods())),
        }
    }
}

/// Several services on one server: each call goes to the one that has its method.
pub struct Services {
    services: Vec<std::sync::Arc<dyn Service>>,
    methods: Vec<&'static str>,
}

impl Services {
    pub fn new(services: Vec<std::sync::Arc<dyn Service>>) -> Services {
        let methods = services
            .iter()
            .flat_map(|s| s.methods().iter().copied())
            .collect();
        Services { services, methods }
    }
}

impl Service for Services {
    fn methods(&self) -> &[&'static str] {
        &self.methods
    }

    fn call(&self, call: &mut Call) -> Result<(), Status> {
        match self
            .services
            .iter()
            .find(|s| s.methods().contains(&call.method.as_str()))
        {
            Some(s) => s.call(call),
            None => Err(super::exchange::unimplemented(&call.method, &self.methods)),
        }
    }
}

/// The notes of a Notes service elsewhere: every operation one gRPC call, on a channel
/// (one connection, reused) taken from those kept here: as many as calls were ever made at
/// once, since the gateway's handlers run in parallel.
pub struct Remote {
    base: Url,
    opts: Options,
    channels: Mutex<Vec<Channel>>,
}

impl Remote {
    /// `grpc://host:port` (h2c) or `grpcs://host:port` (TLS, verified against `cacert`).
    pub fn new(url: &str, cacert: Option<std::path::PathBuf>) -> Result<Remote, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url}: expected grpc://HOST:PORT"))?;
        let tls = match scheme {
            "grpc" => false,
            "grpcs" => true,
            other => return Err(format!("{url}: scheme {other}: use grpc:// or grpcs://")),
        };
        let host = rest.trim_end_matches('/');
        let base = Url::parse(&format!("{}://{host}/", if tls { "https" } else { "http" }))
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(Remote {
            base,
            opts: Options {
                h2: H2Options {
                    h2c: !tls,
                    cacert,
                    ..H2Options::default()
                },
                deadline: Some(Duration::from_secs(10)),
                metadata: Vec::new(),
            },
            channels: Mutex::new(Vec::new()),
        })
    }

    fn call<Req, Resp>(&self, method: &str, req: &Req) -> Result<Option<Resp>, Unreachable>
    where
        Req: prost::Message + Describe,
        Resp: prost::Message + Default + Describe,
    {
        let _role = crate::trace::role("gateway");
        let kept = self.channels.lock().ok().and_then(|mut c| c.pop());
        let mut channel = match kept {
            Some(c) => c,
            None => Channel::new(self.base.clone(), self.opts.clone())
                .map_err(|s| Unreachable(s.to_string()))?,
        };
        let result = channel.unary::<Req, Resp>(method, req);
        if let Ok(mut c) = self.channels.lock() {
            c.push(channel);
        }
        match result {
            Ok(r) => Ok(Some(r)),
            Err(s) if s.code == Code::NOT_FOUND => Ok(None),
            Err(s) => Err(Unreachable(s.to_string())),
        }
    }
}

impl Notes for Remote {
    fn create(&self, text: &str) -> Result<u64, Unreachable> {
        let n: Option<StoredNote> = self.call(CREATE, &NoteText { text: text.into() })?;
        n.map(|n| n.id)
            .ok_or_else(|| Unreachable("Create answered NOT_FOUND".into()))
    }
    fn get(&self, id: u64) -> Result<Option<String>, Unreachable> {
        Ok(self
            .call::<_, StoredNote>(GET, &NoteId { id })?
            .map(|n| n.text))
    }
    fn list(&self) -> Result<Vec<(u64, String)>, Unreachable> {
        let l: Option<NoteList> = self.call(LIST, &Empty {})?;
        Ok(l.unwrap_or_default()
            .notes
            .into_iter()
            .map(|n| (n.id, n.text))
            .collect())
    }
    fn update(&self, id: u64, text: &str) -> Result<bool, Unreachable> {
        let n: Option<StoredNote> = self.call(
            UPDATE,
            &StoredNote {
                id,
                text: text.into(),
            },
        )?;
        Ok(n.is_some())
    }
    fn delete(&self, id: u64) -> Result<bool, Unreachable> {
        let e: Option<Empty> = self.call(DELETE, &NoteId { id })?;
        Ok(e.is_some())
    }
}
