DROP TABLE reservation_lines; DROP TABLE reservations; DROP TABLE movements; DROP TABLE known_skus; DROP TABLE known_locations;
