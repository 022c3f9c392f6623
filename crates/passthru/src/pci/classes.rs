//! Built-in names for the common PCI classes, used when no pci.ids is available (a fake
//! root, a minimal container), so a device still reads as "Ethernet controller" rather
//! than a bare number. Names follow pci.ids.

/// The class name for a 24-bit class code, from the subclass, else the base class.
pub fn builtin_class_name(class: u32) -> Option<&'static str> {
    let (base, sub) = ((class >> 16) as u8, (class >> 8) as u8);
    let name = match (base, sub) {
        (0x01, 0x00) => "SCSI storage controller",
        (0x01, 0x01) => "IDE interface",
        (0x01, 0x04) => "RAID bus controller",
        (0x01, 0x06) => "SATA controller",
        (0x01, 0x07) => "Serial Attached SCSI controller",
        (0x01, 0x08) => "Non-Volatile memory controller",
        (0x01, _) => "Mass storage controller",
        (0x02, 0x00) => "Ethernet controller",
        (0x02, 0x07) => "Infiniband controller",
        (0x02, _) => "Network controller",
        (0x03, 0x00) => "VGA compatible controller",
        (0x03, 0x02) => "3D controller",
        (0x03, _) => "Display controller",
        (0x04, 0x03) => "Audio device",
        (0x04, _) => "Multimedia controller",
        (0x05, _) => "Memory controller",
        (0x06, 0x00) => "Host bridge",
        (0x06, 0x01) => "ISA bridge",
        (0x06, 0x04) => "PCI bridge",
        (0x06, _) => "Bridge",
        (0x07, _) => "Communication controller",
        (0x08, _) => "System peripheral",
        (0x0c, 0x03) => "USB controller",
        (0x0c, 0x05) => "SMBus",
        (0x0c, _) => "Serial bus controller",
        (0x10, _) => "Encryption controller",
        (0x11, _) => "Signal processing controller",
        (0x12, _) => "Processing accelerators",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_classes_have_names() {
        assert_eq!(builtin_class_name(0x020000), Some("Ethernet controller"));
        assert_eq!(
            builtin_class_name(0x010802),
            Some("Non-Volatile memory controller")
        );
        assert_eq!(builtin_class_name(0x060400), Some("PCI bridge"));
        assert_eq!(builtin_class_name(0xff0000), None);
    }
}
