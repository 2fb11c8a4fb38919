DROP TABLE order_parts;
