-- Secrets at rest (docs/RUNNING.md, "Secrets at rest").
--
-- A citizen's pay token is a bearer credential: the database keeps its SHA-256 (to find the
-- intent from a link) and a copy sealed with SECRETS_KEY (so the roles that create intents can
-- be shown the link again), never the token itself. `payments migrate` seals the existing
-- tokens into pay_token_sealed before this migration runs (db::seal_legacy_pay_tokens); a
-- database migrated by other means keeps working links, but those older intents no longer
-- show their pay_url.
alter table payment_intents add column if not exists pay_token_sealed text;
alter table payment_intents add column pay_token_hash bytea;
update payment_intents set pay_token_hash = sha256(convert_to(pay_token, 'UTF8'));
alter table payment_intents
    alter column pay_token_hash set not null,
    add constraint payment_intents_pay_token_hash_length check (length(pay_token_hash) = 32),
    add constraint payment_intents_pay_token_hash_key unique (pay_token_hash),
    add constraint payment_intents_pay_token_sealed_check check (pay_token_sealed like 'enc1:%'),
    drop column pay_token;

-- Stored creation responses (idempotent replays) held the link too; a replay now gets it back
-- from the sealed copy.
update idempotency_keys set response_body = response_body - 'pay_url'
where response_body ? 'pay_url';

-- Webhook signing secrets keep their columns; the service seals every plaintext value
-- (whsec_...) at start and on `payments migrate`, and reads either form meanwhile, so rows
-- written before this release keep signing.
comment on column webhook_endpoints.secret is
    'enc1:<key id>:<nonce+ciphertext>, sealed with SECRETS_KEY (plaintext whsec_ only before the first start of this release)';
