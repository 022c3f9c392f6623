//! Per-device checks, run on every device meant for passthrough.

pub mod boot_vga;
pub mod default_route;
pub mod driver;
pub mod group_isolated;
pub mod guest_use;
pub mod nova_listed;
pub mod numa;
pub mod reset;
pub mod vfio_group_node;

/// Commands that move one device to vfio-pci now (driver_override, unbind, probe)
/// and keep it there across reboots.
pub fn bind_vfio_commands(addr: &str, has_driver: bool) -> String {
    let mut lines = vec![
        "modprobe vfio-pci".to_string(),
        format!("echo vfio-pci > /sys/bus/pci/devices/{addr}/driver_override"),
    ];
    if has_driver {
        lines.push(format!(
            "echo {addr} > /sys/bus/pci/devices/{addr}/driver/unbind"
        ));
    }
    lines.push(format!("echo {addr} > /sys/bus/pci/drivers_probe"));
    lines.push(format!(
        "# at every boot: driverctl set-override {addr} vfio-pci   (or: passthru bind {addr} --vfio)"
    ));
    lines.join("\n")
}
