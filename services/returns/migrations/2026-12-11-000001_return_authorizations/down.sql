DROP TABLE return_units;
DROP TABLE return_lines;
DROP TABLE returns;
DROP TABLE order_deliveries;
DROP TABLE sku_tags;
ALTER TABLE order_views DROP COLUMN policy;
ALTER TABLE order_views DROP COLUMN placed_by;
ALTER TABLE order_views DROP COLUMN total_minor;
ALTER TABLE order_views DROP COLUMN channel;
