//! What can go wrong talking to an OpenStack cloud, each error naming what it is
//! about (the file, the variable, the URL) and, for API errors, the service's own
//! message.

use thiserror::Error;

/// An error from configuration, authentication or an API call.
#[derive(Debug, Error)]
pub enum OpenStackError {
    /// clouds.yaml / secure.yaml could not be read or parsed.
    #[error("{file}: {message}")]
    ConfigFile {
        /// The file.
        file: String,
        /// What is wrong (the YAML parser's message names line and column).
        message: String,
    },
    /// No cloud was chosen and the environment does not describe one.
    #[error("no cloud to talk to: {0}")]
    NoCloud(String),
    /// The chosen cloud lacks something authentication needs.
    #[error("cloud {cloud}: {message}")]
    Auth {
        /// `clouds.yaml cloud NAME` or `OS_* variables`.
        cloud: String,
        /// What is missing or wrong, and the fix.
        message: String,
    },
    /// The service answered with an error status.
    #[error("{method} {url}: {status} {message}")]
    Api {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The service's own message (nova's `badRequest.message`, keystone's
        /// `error.message`), else the body.
        message: String,
    },
    /// The service could not be reached, or the answer was cut.
    #[error("{method} {url}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// The transport's message.
        message: String,
    },
    /// An answer that is not the JSON the API documents.
    #[error("{url}: unexpected answer: {message}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What did not parse.
        message: String,
    },
    /// The service catalog has no usable endpoint.
    #[error(
        "no {service} endpoint in the service catalog for {wanted}; the catalog has: {available}"
    )]
    NoEndpoint {
        /// Service type (`compute`).
        service: String,
        /// Interface and region asked for.
        wanted: String,
        /// What the catalog offers.
        available: String,
    },
    /// The compute API cannot serve the microversion needed or asked for.
    #[error("compute API microversion: {0}")]
    Microversion(String),
    /// A flavor or server that does not exist (by id or name), or a name that is not unique.
    #[error("{0}")]
    NotFound(String),
}

impl OpenStackError {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            OpenStackError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}
