-- Receipt prints from the staff console (issue 14): the first print of a cash receipt is the
-- original; every later print is a copy, marked "COPY / ច្បាប់ចម្លង". Keyed by the receipt
-- number, so online (KHQR) receipts reprinted at the counter are counted too (staff always
-- get a copy of those: the citizen's own page is their original).
--
-- One row per printed number. The console's print is one statement, `insert ... on conflict
-- (receipt_number) do update set print_count = print_count + 1 returning print_count`: the
-- primary key serialises two first prints from two instances, so exactly one of them sees 1.
create table receipt_prints (
    receipt_number text primary key check (length(receipt_number) between 1 and 40),
    office_code text not null references offices (code),
    print_count integer not null check (print_count >= 1),
    -- Who printed the original, and when (the copies are in staff_actions, one a print).
    first_printed_at timestamptz not null default now(),
    first_printed_by_user_id uuid references staff_users (id),
    last_printed_at timestamptz not null default now()
);
