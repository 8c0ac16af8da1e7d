-- A callback whose settlement failed (the database went away under it) is marked 'failed'
-- and was never looked at again: only messages left 'received' were retried. The recovery
-- worker now retries failed ones too, each time waiting twice as long (up to an hour), so a
-- message that cannot settle is neither forgotten nor retried in a tight loop.
alter table inbox_messages add column retries integer not null default 0;

drop index inbox_messages_unprocessed_idx;
create index inbox_messages_unprocessed_idx on inbox_messages (received_at)
    where status in ('received', 'failed');
