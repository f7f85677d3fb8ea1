//! The resources `netlab http serve` offers. Each is a plain handler (or a small set of
//! them) over shared state, and the same handlers serve HTTP/2 and HTTP/3.
//!
//! - [`notes`]: the notes store both APIs share.
//! - [`rest`]: the notes as a REST/JSON resource.
//! - [`soap`]: the same operations as SOAP 1.1 envelopes, with a WSDL.
//! - [`files`]: static files under a root directory.
//! - [`app`]: the whole site (the monolith), and the gateway that splits it into services.

pub mod app;
pub mod files;
pub mod notes;
pub mod rest;
pub mod soap;
