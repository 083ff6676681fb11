#!/usr/bin/env bash
# One role and one database per service; no role may connect to another's database. The audit
# tables get their own owner role later, once the services have migrated (the audit-protect
# service in compose.yaml runs `samspil audit protect`).
set -euo pipefail
create() {
  local name=$1 password=$2
  psql -v ON_ERROR_STOP=1 -U postgres <<SQL
CREATE ROLE ${name} LOGIN PASSWORD '${password}';
CREATE DATABASE ${name} OWNER ${name};
REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC;
SQL
  psql -v ON_ERROR_STOP=1 -U postgres -d "${name}" -c "REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO ${name};"
}
create employment "${EMPLOYMENT_DB_PASSWORD}"
create social "${SOCIAL_DB_PASSWORD}"
create provider_gateway "${PROVIDER_GATEWAY_DB_PASSWORD}"
