"""Run the provider gateway: ``python -m provider_gateway``."""

from provider_gateway.bootstrap import SERVICE_NAME, build_app
from provider_gateway.settings import GatewaySettings
from samspil.runtime.http import serve
from samspil.runtime.logging import configure_logging
from samspil.runtime.tracing import configure_tracing


def main() -> None:
    settings = GatewaySettings()
    configure_logging(
        SERVICE_NAME, settings.log_format, settings.log_level, settings.broker_outage_log_seconds
    )
    configure_tracing(SERVICE_NAME)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
