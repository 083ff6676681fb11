-- Revocation of provider tokens. Every token carries its client's token generation at issue;
-- rotating the secret or disabling the client moves the generation on, and the gateway refuses
-- a token of an older generation on its next request. A counter, not a time, so a token issued
-- in the same second as a rotation is still told apart exactly.
ALTER TABLE provider_client ADD COLUMN token_generation bigint NOT NULL DEFAULT 0;
