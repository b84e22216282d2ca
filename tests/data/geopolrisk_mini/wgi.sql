-- wgi.db layout: wide text tables, 'nan' missing, rows sorted by World Bank code; the second
-- 'GUY' row out of code order mirrors the real file's mislabelled French Guiana. Made-up values.
CREATE TABLE "Estimate" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "Estimate" VALUES
  ('Guatemala', 'GTM', '-0.5', '-0.3', '320'),
  ('Guyana', 'GUY', '0.4', '0.33', '328'),
  ('Guam', 'GUM', '0.8', '0.81', 'NA'),
  ('Guyana', 'GUY', '0.1', '0.027', '328'),
  ('Kazakhstan', 'KAZ', '-0.1', '-0.35683342814445496', '398'),
  ('Europe EFTA, nes', 'R20', '-0.2', '-0.25', '697'),
  ('Taiwan, China', 'TWN', 'nan', '0.75', 'NA');
CREATE TABLE "StdErr" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "StdErr" VALUES ('Kazakhstan', 'KAZ', '0.2', '0.21676841378211975', '398');
CREATE TABLE "NumSrc" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "NumSrc" VALUES ('Kazakhstan', 'KAZ', '8.0', '8.0', '398');
CREATE TABLE "Rank" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "Rank" VALUES ('Kazakhstan', 'KAZ', '30.1', '32.5', '398');
CREATE TABLE "Lower" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "Lower" VALUES ('Kazakhstan', 'KAZ', '20.1', '20.3', '398');
CREATE TABLE "Upper" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "Upper" VALUES ('Kazakhstan', 'KAZ', '45.1', '46.7', '398');
CREATE TABLE "Normalized" ("Country/Territory" TEXT, "Code" TEXT, "2021" TEXT, "2022" TEXT, "country_code" TEXT);
INSERT INTO "Normalized" VALUES
  ('Guyana', 'GUY', '0.42', '0.4337067067623138', '328'),
  ('Guyana', 'GUY', '0.48', '0.494587567448616', '328'),
  ('Kazakhstan', 'KAZ', '0.52', '0.5713666856289101', '398'),
  ('Netherlands Antilles (...2010)', 'ANT', '0.0', 'nan', '530'),
  ('Taiwan, China', 'TWN', '0.33', '0.3491675734519959', 'NA');
