"""The small common runtime every service uses: settings, logging, database, transactional
outbox, idempotent inbox, reliable consumption and health. No business logic lives here."""
