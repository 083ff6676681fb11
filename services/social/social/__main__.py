"""Run the social service: ``python -m social``."""

from samspil.runtime.http import serve
from samspil.runtime.logging import configure_logging
from samspil.runtime.tracing import configure_tracing
from social.bootstrap import SERVICE_NAME, build_app
from social.settings import SocialSettings


def main() -> None:
    settings = SocialSettings()
    configure_logging(
        SERVICE_NAME, settings.log_format, settings.log_level, settings.broker_outage_log_seconds
    )
    configure_tracing(SERVICE_NAME)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
