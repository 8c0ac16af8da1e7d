-- What a citizen may read of a service's legal basis, kept apart from the provenance note.
--
-- `legal_basis` stays what it was: the source's own text, with the researchers' notes ("not
-- printed in the page excerpt (presumably ...)", "not stated"); auditors and the catalog export
-- keep it. `legal_basis_public` is the citation a citizen is shown (an instrument with its
-- number and date, as the source prints it), or empty when the source prints none: the pages
-- then say "legal basis not published" rather than show a guess.
alter table fee_schedule_services
    add column legal_basis_public text not null default ''
        check (length(legal_basis_public) <= 500 and legal_basis_public = btrim(legal_basis_public));

-- The bundled version (payments/data/catalog.csv) was published before this column existed:
-- give its services the public text the bundled file now carries, so that `payments seed`
-- finds the stored version equal to the file. Only rows whose note is exactly the bundled one
-- are touched; an operator's own version is left empty (not published) until re-imported.
update fee_schedule_services s
set legal_basis_public = v.public
from (values
    ('agriculture.animal_collection_point', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012'),
    ('agriculture.aquaculture_permit', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012'),
    ('agriculture.slaughterhouse_establishment', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012'),
    ('agriculture.slaughtering_business', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012 (MAFF public services)', 'Joint Prakas No.1013 MEF.Prk, 28-12-2012'),
    ('commerce.foreign_currency_price_display', 'Joint Prakas No.1217 MEF.Prk, 27-11-2017 (MoC public services)', 'Joint Prakas No.1217 MEF.Prk, 27-11-2017'),
    ('construction.cadastral_information_certificate', 'Prakas No.995 (MLMUPC public services; date not captured)', 'Prakas No.995'),
    ('construction.cadastral_item_5_2_residential_land', 'Prakas No.995', 'Prakas No.995'),
    ('construction.encumbrance_discharge', 'Prakas No.995', 'Prakas No.995'),
    ('construction.encumbrance_registration', 'Prakas No.995', 'Prakas No.995'),
    ('legalization.certified_copy_business_permit', 'Inter-ministerial (Joint) Prakas MoI-MEF No.14342 Pr.K, 29-12-2016; Sub-decree 18 ANKr.BK, 08-02-2017 (Annex 1, capital/province level)', 'Inter-ministerial (Joint) Prakas MoI-MEF No.14342 Pr.K, 29-12-2016; Sub-decree 18 ANKr.BK, 08-02-2017, Annex 1'),
    ('mines_energy.small_scale_mining_application', 'Joint Prakas No.717 MEF.Prk, 08-07-2015 (Ministry of Industry & Handicraft public services)', 'Joint Prakas No.717 MEF.Prk, 08-07-2015'),
    ('public_works.driving_licence_a_exam', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_a_reexam_practical', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_a_reexam_theory', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_a_renewal', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_b_exam', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_b_reexam_practical', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_b_reexam_theory', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_b_renewal', 'Joint Prakas No.010 MEF.Prk, 21-01-2016 (MPWT public services); Sub-decree 18 (2017) Annex 1', 'Joint Prakas No.010 MEF.Prk, 21-01-2016; Sub-decree 18 (2017) Annex 1'),
    ('public_works.driving_licence_late_renewal_penalty', 'Joint Prakas 1460 MEF.Prk, 31-12-2019 (MPWT)', 'Joint Prakas 1460 MEF.Prk, 31-12-2019')
) as v (code, note, public)
where s.schedule_version = '2025-sourced-1' and s.code = v.code and s.legal_basis = v.note;
