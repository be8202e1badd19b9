# Models of offers.campaigns (imported by offers/models.py so Django registers them under the offers app).
