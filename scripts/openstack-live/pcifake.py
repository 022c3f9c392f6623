"""nova's fake compute driver, reporting the PCI devices of a fake host's sysfs.

PCIFAKE_ROOT names a root directory (a passthru fake host): every PCI function under
ROOT/sys/bus/pci/devices except bridges is reported to nova as the libvirt driver
would (address, ids, dev_type, parent, NUMA node); nova's own device_spec filtering
and PCI claims then run unchanged. Spawned instances are written as libvirt test
driver domains, with their allocated PCI devices as <hostdev>, into PCIFAKE_NODE_XML,
so `virsh -c test:///NODE_XML dumpxml instance-0000000N` shows them as libvirt would.
"""
import os
import threading

from oslo_serialization import jsonutils

from nova import objects
from nova.virt import fake
from nova.virt import node as virt_node

_LOCK = threading.Lock()
_DOMAINS = {}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def sysfs_devices(root):
    base = os.path.join(root, 'sys/bus/pci/devices')
    out = []
    for addr in sorted(os.listdir(base)):
        d = os.path.join(base, addr)
        cls = _read(os.path.join(d, 'class')) or '0x000000'
        if cls.startswith('0x06'):
            continue
        numa = _read(os.path.join(d, 'numa_node'))
        numa = None if numa in (None, '-1') else int(numa)
        physfn = os.path.join(d, 'physfn')
        if os.path.islink(physfn):
            dev_type = 'type-VF'
            parent = os.path.basename(os.readlink(physfn))
        elif os.path.exists(os.path.join(d, 'sriov_totalvfs')):
            dev_type, parent = 'type-PF', None
        else:
            dev_type, parent = 'type-PCI', None
        out.append({
            'address': addr,
            'vendor_id': (_read(os.path.join(d, 'vendor')) or '0x0')[2:],
            'product_id': (_read(os.path.join(d, 'device')) or '0x0')[2:],
            'dev_type': dev_type,
            'parent_addr': parent,
            'numa_node': numa,
            'status': 'available',
            'label': 'label_%s_%s' % (
                (_read(os.path.join(d, 'vendor')) or '0x0')[2:],
                (_read(os.path.join(d, 'device')) or '0x0')[2:]),
        })
    return out


def _hostdev(address):
    dom, bus, slotfn = address.split(':')
    slot, fn = slotfn.split('.')
    return ("    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
            "      <driver name='vfio'/>\n"
            "      <source><address domain='0x%s' bus='0x%s' slot='0x%s' "
            "function='0x%s'/></source>\n"
            "    </hostdev>\n" % (dom, bus, slot, fn))


def _write_node_xml():
    path = os.environ.get('PCIFAKE_NODE_XML')
    if not path:
        return
    body = ''.join(_DOMAINS[k] for k in sorted(_DOMAINS))
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('<node>\n%s</node>\n' % body)
    os.replace(tmp, path)


class PciFakeDriver(fake.FakeDriver):
    def get_available_resource(self, nodename):
        status = super().get_available_resource(nodename)
        if status:
            root = os.environ['PCIFAKE_ROOT']
            status['pci_passthrough_devices'] = jsonutils.dumps(
                sysfs_devices(root))
        return status

    def get_nodenames_by_uuid(self, refresh=False):
        # The stock fake driver makes a new node uuid in each process.
        return {virt_node.get_local_node_uuid(): self.get_available_nodes()[0]}

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        super().spawn(context, instance, image_meta, injected_files,
                      admin_password, allocations, network_info,
                      block_device_info, power_on, accel_info)
        devs = objects.PciDeviceList.get_by_instance_uuid(
            context, instance.uuid)
        hostdevs = ''.join(_hostdev(d.address) for d in devs)
        flavor = instance.flavor
        xml = ("  <domain type='test'>\n"
               "    <name>%s</name>\n    <uuid>%s</uuid>\n"
               "    <metadata>\n"
               "      <nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'>\n"
               "        <nova:name>%s</nova:name>\n"
               "        <nova:flavor name='%s'/>\n"
               "      </nova:instance>\n"
               "    </metadata>\n"
               "    <memory unit='MiB'>%d</memory>\n    <vcpu>%d</vcpu>\n"
               "    <os><type arch='x86_64'>hvm</type></os>\n"
               "    <devices>\n%s    </devices>\n  </domain>\n"
               % (instance.name, instance.uuid, instance.display_name,
                  flavor.name, flavor.memory_mb, flavor.vcpus, hostdevs))
        with _LOCK:
            _DOMAINS[instance.name] = xml
            _write_node_xml()

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        super().destroy(context, instance, network_info, block_device_info,
                        destroy_disks, destroy_secrets)
        with _LOCK:
            _DOMAINS.pop(instance.name, None)
            _write_node_xml()
