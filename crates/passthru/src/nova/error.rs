//! nova's errors, with nova's own class names and messages.
//!
//! nova reports a bad `device_spec` or `alias` with an exception whose text is the
//! only thing an operator sees in the compute log. passthru reproduces that text.
//! Where nova does not validate and Python itself raises (`TypeError`,
//! `AttributeError`, `KeyError`, `ValueError`), the class is that built-in and
//! [`NovaError::is_crash`] says so: the service stops with a traceback rather
//! than a message.

use serde::Serialize;

/// An exception as nova 34 raises it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NovaError {
    /// Python exception class, e.g. `PciConfigInvalidSpec`, or a built-in such as
    /// `TypeError` when nova crashes instead of reporting.
    pub exception: String,
    /// `str(exception)`.
    pub message: String,
}

impl std::fmt::Display for NovaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NovaError {}

const BUILTINS: [&str; 6] = [
    "TypeError",
    "AttributeError",
    "KeyError",
    "ValueError",
    "OverflowError",
    "RecursionError",
];

impl NovaError {
    /// An exception with a class name and message.
    pub fn new(exception: &str, message: impl Into<String>) -> Self {
        NovaError {
            exception: exception.to_string(),
            message: message.into(),
        }
    }

    /// `PciConfigInvalidSpec`: "Invalid [pci]device_spec config: <reason>".
    pub fn invalid_spec(reason: impl AsRef<str>) -> Self {
        Self::new(
            "PciConfigInvalidSpec",
            format!("Invalid [pci]device_spec config: {}", reason.as_ref()),
        )
    }

    /// `PciDeviceWrongAddressFormat` for an address given as its Python `str()`.
    pub fn wrong_address(address_str: impl AsRef<str>) -> Self {
        Self::new(
            "PciDeviceWrongAddressFormat",
            format!(
                "The PCI address {} has an incorrect format.",
                address_str.as_ref()
            ),
        )
    }

    /// `PciDeviceInvalidDeviceName`: devname and address together.
    pub fn devname_and_address() -> Self {
        Self::new(
            "PciDeviceInvalidDeviceName",
            "Invalid PCI Whitelist: The PCI whitelist can specify devname or address, but not both",
        )
    }

    /// `PciDeviceRemoteManagedNotPresent`.
    pub fn remote_managed_not_present() -> Self {
        Self::new(
            "PciDeviceRemoteManagedNotPresent",
            "Invalid PCI Whitelist: A device specified as \"remote_managed\" is not actually present on the host",
        )
    }

    /// `PciDeviceInvalidPFRemoteManaged`: nova passes the address positionally, so
    /// the message is just the address.
    pub fn pf_remote_managed(address: impl Into<String>) -> Self {
        Self::new("PciDeviceInvalidPFRemoteManaged", address)
    }

    /// `PciDeviceNotFoundById`.
    pub fn not_found_by_id(id: impl AsRef<str>) -> Self {
        Self::new(
            "PciDeviceNotFoundById",
            format!("PCI device {} not found", id.as_ref()),
        )
    }

    /// `PciInvalidAlias` with nova's prefix.
    pub fn invalid_alias(reason: impl AsRef<str>) -> Self {
        Self::new(
            "PciInvalidAlias",
            format!("Invalid PCI alias definition: {}", reason.as_ref()),
        )
    }

    /// `PciInvalidAlias` raised with a whole message (no prefix).
    pub fn invalid_alias_message(message: impl Into<String>) -> Self {
        Self::new("PciInvalidAlias", message)
    }

    /// `PciRequestAliasNotDefined`.
    pub fn alias_not_defined(name: &str) -> Self {
        Self::new(
            "PciRequestAliasNotDefined",
            format!("PCI alias {name} is not defined"),
        )
    }

    /// Whether Python raised a built-in exception (nova did not validate).
    pub fn is_crash(&self) -> bool {
        BUILTINS.contains(&self.exception.as_str())
    }
}
