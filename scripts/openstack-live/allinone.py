"""nova-api, nova-conductor, nova-scheduler and nova-compute (the PCI fake driver)
in one process: `fake://` messaging only works inside one process.

    python allinone.py PORT CONFIG_FILE...

Serves the compute API (the stock api-paste.ini pipeline, keystone auth) on
127.0.0.1:PORT until SIGTERM. Glance and neutron are stubbed: one fixed image, no
ports (servers are created with "networks": "none").
"""
import os
import signal
import sys
import threading

os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = '1'
from nova import monkey_patch  # noqa: E402
monkey_patch.patch(backend='threading')

import sqlalchemy  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

@sqlalchemy.event.listens_for(Engine, 'connect')
def _sqlite_connect(dbapi_con, rec):
    # Serialize writers: concurrent threads otherwise get "database is locked".
    if type(dbapi_con).__module__.startswith('sqlite3'):
        dbapi_con.isolation_level = None
        dbapi_con.execute('PRAGMA busy_timeout=30000')
        dbapi_con.execute('PRAGMA journal_mode=wal')


@sqlalchemy.event.listens_for(Engine, 'begin')
def _sqlite_begin(conn):
    if conn.engine.dialect.name == 'sqlite' and 'in_transaction' not in conn.info:
        conn.exec_driver_sql('BEGIN IMMEDIATE')
        conn.info['in_transaction'] = True


@sqlalchemy.event.listens_for(Engine, 'commit')
@sqlalchemy.event.listens_for(Engine, 'rollback')
def _sqlite_end(conn):
    conn.info.pop('in_transaction', None)


here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import pcifake  # noqa: E402
sys.modules['nova.virt.pcifake'] = pcifake

from nova import config  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova import service  # noqa: E402

port = int(sys.argv[1])
conf_args = []
for c in sys.argv[2:]:
    conf_args += ['--config-file', c]
config.parse_args([sys.argv[0]] + conf_args)
objects.register_all()

from nova.image import glance  # noqa: E402
from nova.network import model as network_model  # noqa: E402
from nova.network import neutron  # noqa: E402
from nova.network import security_group_api  # noqa: E402

IMAGE = {
    'id': '155d900f-4e14-4e4c-a73d-069cbf4541e6',
    'name': 'fakeimage',
    'created_at': '2026-01-01T00:00:00Z',
    'updated_at': '2026-01-01T00:00:00Z',
    'deleted_at': None,
    'deleted': False,
    'status': 'active',
    'is_public': True,
    'container_format': 'bare',
    'disk_format': 'raw',
    'size': 25165824,
    'min_ram': 0,
    'min_disk': 0,
    'protected': False,
    'visibility': 'public',
    'tags': [],
    'properties': {'architecture': 'x86_64'},
}


class FakeImageService(object):
    def show(self, context, image_id, include_locations=False,
             show_deleted=True):
        if image_id != IMAGE['id']:
            from nova import exception
            raise exception.ImageNotFound(image_id=image_id)
        return dict(IMAGE)

    def detail(self, context, **kwargs):
        return [dict(IMAGE)]


glance.get_remote_image_service = lambda context, href: (FakeImageService(), href)
glance.get_default_image_service = lambda: FakeImageService()
_empty = lambda *a, **k: network_model.NetworkInfo([])  # noqa: E731
neutron.API.allocate_for_instance = _empty
neutron.API.get_instance_nw_info = _empty
neutron.API.deallocate_for_instance = lambda *a, **k: None
neutron.API.setup_instance_network_on_host = lambda *a, **k: None
neutron.API.cleanup_instance_network_on_host = lambda *a, **k: None
security_group_api.get_instances_security_groups_bindings = lambda *a, **k: {}
security_group_api.get_instance_security_groups = lambda *a, **k: []

services = []
for binary, topic, kw in [('nova-conductor', 'conductor', {}),
                          ('nova-scheduler', 'scheduler', {}),
                          ('nova-compute', 'compute', {'topic_alt': 'compute-alt'})]:
    s = service.Service.create(binary=binary, topic=topic, **kw)
    s.start()
    services.append(s)

ctxt = nova_context.get_admin_context()
objects.host_mapping.discover_hosts(ctxt, by_service=True)

from paste import deploy  # noqa: E402
from nova.conf import CONF  # noqa: E402
from socketserver import ThreadingMixIn  # noqa: E402
from wsgiref.simple_server import make_server, WSGIServer, WSGIRequestHandler  # noqa: E402


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


app = deploy.loadapp('config:' + CONF.wsgi.api_paste_config, name='osapi_compute')
httpd = make_server('127.0.0.1', port, app, server_class=Server,
                    handler_class=QuietHandler)


def _stop(signum, frame):
    threading.Thread(target=httpd.shutdown, daemon=True).start()


signal.signal(signal.SIGTERM, _stop)
print('nova all-in-one ready on 127.0.0.1:%d' % port, flush=True)
httpd.serve_forever()
os._exit(0)
