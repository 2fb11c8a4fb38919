DROP TABLE skus; DROP TABLE locations;
