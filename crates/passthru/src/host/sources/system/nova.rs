//! `etc/nova/nova.conf`: its text, for [`crate::nova::conf`] to read with
//! oslo.config's rules (the one nova.conf reader).

use crate::host::root::Root;
use crate::host::system::NovaConf;

/// Where nova.conf lives under the root.
pub const NOVA_CONF: &str = "etc/nova/nova.conf";

/// Reads nova.conf, `None` when absent.
pub fn read_nova_conf(root: &Root) -> Option<NovaConf> {
    let text = root.read_string(NOVA_CONF).ok()?;
    Some(NovaConf {
        path: NOVA_CONF.to_string(),
        text,
    })
}
