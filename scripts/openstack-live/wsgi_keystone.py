# keystone's WSGI module parses sys.argv; under gunicorn that is gunicorn's.
import sys
sys.argv = [sys.argv[0]]
from keystone.wsgi.api import application  # noqa: E402,F401
