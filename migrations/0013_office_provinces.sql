-- The provinces, so that a citizen finds their office by province (the status page's list of
-- offices is grouped by them) and an office says where it is.
--
-- Codes and names: Cambodia's 24 provinces and the capital with their two-digit codes of the
-- national geocode (the Cambodia Gazetteer of the National Institute of Statistics, Ministry of
-- Planning, as used by the NCDD's commune database); Tbong Khmum (25) is the province created
-- from Kampong Cham at the end of 2013. Khmer names are written as the administration writes
-- them, with their title (ខេត្ត province, រាជធានី capital); English names in the Gazetteer's
-- romanisation.
--
-- Office codes follow the same geocode (two digits of province, two of district: 0320 is a
-- district of Kampong Cham, 1201 a khan of Phnom Penh), which is how offices get their
-- province: existing ones below, new ones from a trigger when the insert names none (so the
-- seed, the tests and any later way of adding offices need not know this column). An office
-- whose code is not a geocode (the national suspense office 0000) has none and is not
-- offered to citizens.
create table provinces (
    code text primary key check (code ~ '^[0-9]{2}$'),
    name_km text not null check (length(name_km) between 1 and 100),
    name_en text not null check (length(name_en) between 1 and 100)
);

insert into provinces (code, name_km, name_en) values
    ('01', 'ខេត្តបន្ទាយមានជ័យ', 'Banteay Meanchey'),
    ('02', 'ខេត្តបាត់ដំបង', 'Battambang'),
    ('03', 'ខេត្តកំពង់ចាម', 'Kampong Cham'),
    ('04', 'ខេត្តកំពង់ឆ្នាំង', 'Kampong Chhnang'),
    ('05', 'ខេត្តកំពង់ស្ពឺ', 'Kampong Speu'),
    ('06', 'ខេត្តកំពង់ធំ', 'Kampong Thom'),
    ('07', 'ខេត្តកំពត', 'Kampot'),
    ('08', 'ខេត្តកណ្ដាល', 'Kandal'),
    ('09', 'ខេត្តកោះកុង', 'Koh Kong'),
    ('10', 'ខេត្តក្រចេះ', 'Kratie'),
    ('11', 'ខេត្តមណ្ឌលគិរី', 'Mondul Kiri'),
    ('12', 'រាជធានីភ្នំពេញ', 'Phnom Penh'),
    ('13', 'ខេត្តព្រះវិហារ', 'Preah Vihear'),
    ('14', 'ខេត្តព្រៃវែង', 'Prey Veng'),
    ('15', 'ខេត្តពោធិ៍សាត់', 'Pursat'),
    ('16', 'ខេត្តរតនគិរី', 'Ratanak Kiri'),
    ('17', 'ខេត្តសៀមរាប', 'Siem Reap'),
    ('18', 'ខេត្តព្រះសីហនុ', 'Preah Sihanouk'),
    ('19', 'ខេត្តស្ទឹងត្រែង', 'Stung Treng'),
    ('20', 'ខេត្តស្វាយរៀង', 'Svay Rieng'),
    ('21', 'ខេត្តតាកែវ', 'Takeo'),
    ('22', 'ខេត្តឧត្តរមានជ័យ', 'Oddar Meanchey'),
    ('23', 'ខេត្តកែប', 'Kep'),
    ('24', 'ខេត្តប៉ៃលិន', 'Pailin'),
    ('25', 'ខេត្តត្បូងឃ្មុំ', 'Tbong Khmum');

-- Null for an office that serves no one province (the national suspense office).
alter table offices add column province_code text references provinces (code);

update offices set province_code = left(code, 2)
where code ~ '^[0-9]{4}$' and left(code, 2) in (select code from provinces);

create function offices_province_from_geocode() returns trigger
language plpgsql as $$
begin
    if new.province_code is null and new.code ~ '^[0-9]{4}$' then
        new.province_code := (select code from provinces where code = left(new.code, 2));
    end if;
    return new;
end
$$;

create trigger offices_province_from_geocode
    before insert on offices
    for each row execute function offices_province_from_geocode();
