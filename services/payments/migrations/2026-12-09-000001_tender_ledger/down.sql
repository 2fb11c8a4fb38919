DROP TABLE tender_operations;
DROP TABLE tender_money;
