DROP TABLE availability_marks;
