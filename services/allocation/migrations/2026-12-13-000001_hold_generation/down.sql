DROP TABLE hold_generation;
