import { HttpStatus, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Item } from 'sagactl';
import { ApiError } from './api-error';

/** The gate for items: an unknown item is refused before a saga exists; stock and availability are the saga's decision. */
@Injectable()
export class InventoryService {
  constructor(@InjectRepository(Item) private readonly items: Repository<Item>) {}

  async validateItem(itemId: string): Promise<void> {
    if (!(await this.items.existsBy({ itemId }))) {
      throw new ApiError(HttpStatus.NOT_FOUND, 'ITEM_NOT_FOUND', `No item "${itemId}".`);
    }
  }
}
