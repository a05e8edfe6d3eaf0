"""The WSGI entry point Gunicorn serves (`wsgi:app`).

Behind the load balancer the client's scheme, host and port arrive in X-Forwarded-* headers;
ProxyFix puts them back into the request so url_for(_external=True) builds URLs the client can
follow. Each value trusts exactly one proxy hop: the ALB.
"""

from werkzeug.middleware.proxy_fix import ProxyFix

from crud import create_app

app = create_app()
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)
