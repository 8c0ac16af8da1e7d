-- The link Bakong gave for opening an attempt's KHQR in the payer's bank app, fetched once when
-- the citizen's page made the attempt (so the page never asks Bakong on each view). Null when
-- Bakong gave none; the page then simply has no "open in my bank app" button.
alter table payment_attempts
    add column deeplink text check (deeplink is null or char_length(deeplink) between 1 and 512);
