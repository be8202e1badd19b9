# Models of offers.codes (imported by offers/models.py so Django registers them under the offers app).
